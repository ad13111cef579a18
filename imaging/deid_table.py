"""PS3.15 Annex E Table E.1-1: Basic Application Level Confidentiality Profile, with the Clean
Descriptors Option (E.3.5), as one table of actions per attribute.

Actions (Table E.1-1 legend): D dummy value, Z zero length, X remove, K keep, C clean, U replace
UID consistently. Compound actions of the standard are resolved once here, conservatively:
X/Z and X/Z/D → Z for Type 2 dates and names that some IODs require present (never D: a dummy
date invites misuse), X/D → X, Z/D → Z, X/Z/U* → recurse into the sequence (its UIDs get U).
Attributes marked C under the Clean Descriptors Option are C here instead of X.
"""

from __future__ import annotations

import enum

from pydicom.datadict import tag_for_keyword


class Action(enum.StrEnum):
    DUMMY = "D"
    ZERO = "Z"
    REMOVE = "X"
    KEEP = "K"
    CLEAN = "C"
    UID = "U"


_TABLE_BY_KEYWORD: dict[str, str] = {
    # Identifying the patient (E.1-1).
    "PatientName": "Z", "PatientID": "Z", "PatientBirthDate": "Z", "PatientSex": "Z",
    "IssuerOfPatientID": "X", "IssuerOfPatientIDQualifiersSequence": "X",
    "OtherPatientIDs": "X", "OtherPatientIDsSequence": "X", "OtherPatientNames": "X",
    "PatientBirthName": "X", "PatientBirthTime": "X", "PatientMotherBirthName": "X",
    "PatientAddress": "X", "PatientAge": "X", "PatientSize": "X", "PatientWeight": "X",
    "PatientTelephoneNumbers": "X", "PatientReligiousPreference": "X", "EthnicGroup": "X",
    "Occupation": "C", "PatientComments": "C", "AdditionalPatientHistory": "C",
    "PatientSexNeutered": "Z", "MedicalRecordLocator": "X", "MilitaryRank": "X",
    "BranchOfService": "X", "CountryOfResidence": "X", "RegionOfResidence": "X",
    "PatientInsurancePlanCodeSequence": "X", "PatientPrimaryLanguageCodeSequence": "X",
    "InsurancePlanIdentification": "X", "MedicalAlerts": "C", "Allergies": "C",
    "SmokingStatus": "X", "PregnancyStatus": "X", "LastMenstrualDate": "X",
    "SpecialNeeds": "C", "PatientState": "C", "PatientTransportArrangements": "X",
    "ReferencedPatientSequence": "X", "ReferencedPatientAliasSequence": "X",
    "ResponsiblePerson": "X", "ResponsibleOrganization": "X", "PersonName": "D",
    "PersonAddress": "X", "PersonTelephoneNumbers": "X",
    "PersonIdentificationCodeSequence": "X",
    # Study, visit and request.
    "StudyInstanceUID": "U", "StudyDate": "Z", "StudyTime": "Z", "StudyID": "Z",
    "AccessionNumber": "Z", "StudyDescription": "C", "StudyComments": "C",
    "StudyIDIssuer": "X", "ReferringPhysicianName": "Z", "ReferringPhysicianAddress": "X",
    "ReferringPhysicianTelephoneNumbers": "X", "ReferringPhysicianIdentificationSequence": "X",
    "PhysiciansOfRecord": "X", "PhysiciansOfRecordIdentificationSequence": "X",
    "NameOfPhysiciansReadingStudy": "X", "PhysiciansReadingStudyIdentificationSequence": "X",
    "RequestingPhysician": "X", "RequestingService": "X", "ReasonForStudy": "C",
    "RequestedProcedureDescription": "C", "RequestedProcedureID": "X",
    "RequestedProcedureLocation": "X", "RequestedProcedureComments": "C",
    "RequestedContrastAgent": "C", "RequestAttributesSequence": "X",
    "ImagingServiceRequestComments": "C", "ReasonForTheRequestedProcedure": "C",
    "PlacerOrderNumberImagingServiceRequest": "Z", "FillerOrderNumberImagingServiceRequest": "Z",
    "OrderEnteredBy": "X", "OrderEntererLocation": "X", "OrderCallbackPhoneNumber": "X",
    "AdmissionID": "X", "IssuerOfAdmissionID": "X", "AdmittingDate": "X", "AdmittingTime": "X",
    "AdmittingDiagnosesDescription": "C", "AdmittingDiagnosesCodeSequence": "C",
    "DischargeDiagnosisDescription": "C", "ServiceEpisodeID": "X",
    "ServiceEpisodeDescription": "C", "IssuerOfServiceEpisodeID": "X",
    "CurrentPatientLocation": "X", "VisitComments": "C", "ReferencedStudySequence": "X",
    "ReferencedPerformedProcedureStepSequence": "X",
    # Series, equipment and acquisition.
    "SeriesInstanceUID": "U", "SeriesDescription": "C", "SeriesDate": "X", "SeriesTime": "X",
    "ProtocolName": "C", "OperatorsName": "Z", "OperatorIdentificationSequence": "X",
    "PerformingPhysicianName": "X", "PerformingPhysicianIdentificationSequence": "X",
    "InstitutionName": "X", "InstitutionAddress": "X", "InstitutionCodeSequence": "X",
    "InstitutionalDepartmentName": "X", "StationName": "X", "DeviceSerialNumber": "Z",
    "DeviceUID": "U", "DetectorID": "X", "GantryID": "X", "GeneratorID": "X", "PlateID": "X",
    "CassetteID": "X", "ModifyingDeviceID": "X", "AcquisitionDate": "Z",
    "AcquisitionTime": "Z", "AcquisitionDateTime": "Z", "AcquisitionComments": "C",
    "AcquisitionDeviceProcessingDescription": "C", "AcquisitionContextSequence": "X",
    "AcquisitionProtocolDescription": "C", "ContrastBolusAgent": "C",
    "DerivationDescription": "C", "DateOfLastCalibration": "X", "TimeOfLastCalibration": "X",
    "DateOfSecondaryCapture": "X", "TimeOfSecondaryCapture": "X",
    "PerformedProcedureStepID": "X", "PerformedProcedureStepDescription": "C",
    "PerformedProcedureStepStartDate": "X", "PerformedProcedureStepStartTime": "X",
    "PerformedProcedureStepEndDate": "X", "PerformedProcedureStepEndTime": "X",
    "CommentsOnThePerformedProcedureStep": "C", "PerformedLocation": "X",
    "PerformedStationAETitle": "X", "PerformedStationName": "X",
    "PerformedStationNameCodeSequence": "X",
    "PerformedStationGeographicLocationCodeSequence": "X",
    "ScheduledProcedureStepDescription": "C", "ScheduledProcedureStepStartDate": "X",
    "ScheduledProcedureStepEndDate": "X", "ScheduledProcedureStepLocation": "X",
    "ScheduledStationAETitle": "X", "ScheduledStationName": "X",
    "ScheduledStationNameCodeSequence": "X", "ScheduledStudyLocation": "X",
    "ScheduledStudyLocationAETitle": "X", "ScheduledPerformingPhysicianName": "X",
    "ScheduledPerformingPhysicianIdentificationSequence": "X",
    "ScheduledHumanPerformersSequence": "X", "ScheduledPatientInstitutionResidence": "X",
    "ActualHumanPerformersSequence": "X", "HumanPerformerName": "X",
    "HumanPerformerOrganization": "X",
    # Instance, content and interpretation.
    "SOPInstanceUID": "U", "MediaStorageSOPInstanceUID": "U", "InstanceCreatorUID": "U",
    "InstanceCreationDate": "X", "InstanceCreationTime": "X", "ContentDate": "Z",
    "ContentTime": "Z", "ContentCreatorName": "Z", "ContentCreatorIdentificationCodeSequence": "X",
    "ImageComments": "C", "FrameComments": "C", "IdentifyingComments": "C",
    "ImagePresentationComments": "X", "TextComments": "X", "TextString": "X",
    "ContentSequence": "X", "GraphicAnnotationSequence": "X", "IconImageSequence": "X",
    "Impressions": "X", "InterpretationText": "C", "InterpretationDiagnosisDescription": "C",
    "InterpretationAuthor": "X", "InterpretationRecorder": "X",
    "InterpretationTranscriber": "X", "InterpretationApproverSequence": "X",
    "InterpretationIDIssuer": "X", "PhysicianApprovingInterpretation": "X",
    "ResultsComments": "X", "ResultsIDIssuer": "X", "ResultsDistributionListSequence": "X",
    "DistributionName": "X", "DistributionAddress": "X", "NamesOfIntendedRecipientsOfResults": "X",
    "IntendedRecipientsOfResultsIdentificationSequence": "X", "AuthorObserverSequence": "X",
    "ParticipantSequence": "X", "CustodialOrganizationSequence": "X",
    "VerifyingObserverName": "D", "VerifyingObserverSequence": "X",
    "VerifyingObserverIdentificationCodeSequence": "Z", "VerifyingOrganization": "X",
    "ReviewerName": "X", "ContributionDescription": "C", "ModifiedAttributesSequence": "X",
    "OriginalAttributesSequence": "X", "ModifiedImageDescription": "X",
    "DigitalSignaturesSequence": "X", "DigitalSignatureUID": "X", "MAC": "X",
    "ReferencedDigitalSignatureSequence": "X", "ReferencedSOPInstanceMACSequence": "X",
    "DataSetTrailingPadding": "X", "TimezoneOffsetFromUTC": "X",
    "TopicAuthor": "X", "TopicKeywords": "X", "TopicSubject": "X", "TopicTitle": "X",
    "ConfidentialityConstraintOnPatientDataDescription": "X", "SourceApplicationEntityTitle": "X",
    # Further identifying attributes of E.1-1 (calendars, issuers, trials, orders, signatures).
    "PatientBirthDateInAlternativeCalendar": "X", "PatientDeathDateInAlternativeCalendar": "X",
    "PatientAlternativeCalendar": "X", "IssuerOfAccessionNumberSequence": "X",
    "ReferencedPatientPhotoSequence": "X", "ReasonForRequestedProcedureCodeSequence": "C",
    "SpecimenAccessionNumber": "X", "ContainerIdentifier": "Z", "SpecimenIdentifier": "Z",
    "ClinicalTrialSponsorName": "Z", "ClinicalTrialProtocolID": "Z",
    "ClinicalTrialProtocolName": "Z", "ClinicalTrialSiteID": "Z", "ClinicalTrialSiteName": "Z",
    "ClinicalTrialSubjectID": "Z", "ClinicalTrialSubjectReadingID": "Z",
    "ClinicalTrialTimePointID": "Z", "ClinicalTrialTimePointDescription": "X",
    "ClinicalTrialCoordinatingCenterName": "Z", "ClinicalTrialSeriesID": "X",
    "ClinicalTrialSeriesDescription": "X", "ClinicalTrialProtocolEthicsCommitteeName": "Z",
    "ClinicalTrialProtocolEthicsCommitteeApprovalNumber": "X",
    "PatientInstitutionResidence": "X", "InstitutionalDepartmentTypeCodeSequence": "X",
    "ConsultingPhysicianName": "X", "ConsultingPhysicianIdentificationSequence": "X",
    "EvaluatorName": "X", "SourceSerialNumber": "X", "PreMedication": "X",
    "PatientTelecomInformation": "X", "PersonTelecomInformation": "X",
    "ScheduledProcedureStepID": "X", "PlacerOrderNumberProcedure": "X",
    "FillerOrderNumberProcedure": "X", "ReferencedRequestSequence": "X",
    "OrderPlacerIdentifierSequence": "X", "OrderFillerIdentifierSequence": "X",
    "TextValue": "X", "DigitalSignatureDateTime": "X", "CertificateOfSigner": "X",
    "Signature": "X", "CertifiedTimestamp": "X", "ReasonForVisit": "C",
    "ReasonForVisitCodeSequence": "C", "DischargeDate": "X", "DischargeTime": "X",
    "CommentsOnRadiationDose": "C", "LabelText": "X", "BarcodeValue": "X", "SlideIdentifier": "X",
    # UIDs (every other non-standard UID is replaced too; see deid.py).
    "SpecimenUID": "U", "AcquisitionUID": "U", "TrackingUID": "U", "ObservationUID": "U",
    "TargetUID": "U", "PresentationDisplayCollectionUID": "U",
    "PresentationSequenceCollectionUID": "U", "SOPInstanceUIDOfConcatenationSource": "U",
    "PaletteColorLookupTableUID": "U", "AssertionUID": "U",
    "FrameOfReferenceUID": "U", "SynchronizationFrameOfReferenceUID": "U",
    "ReferencedSOPInstanceUID": "U", "ReferencedFrameOfReferenceUID": "U",
    "RelatedFrameOfReferenceUID": "U", "ConcatenationUID": "U", "DimensionOrganizationUID": "U",
    "IrradiationEventUID": "U", "DoseReferenceUID": "U", "FiducialUID": "U",
    "StorageMediaFileSetUID": "U", "TransactionUID": "U", "UID": "U",
    "LargePaletteColorLookupTableUID": "U", "CreatorVersionUID": "U",
    "ContextGroupExtensionCreatorUID": "U", "TemplateExtensionCreatorUID": "U",
    "TemplateExtensionOrganizationUID": "U", "FailedSOPInstanceUIDList": "U",
    "RequestedSOPInstanceUID": "U", "AffectedSOPInstanceUID": "U",
}  # fmt: skip


def _resolve() -> dict[int, Action]:
    table: dict[int, Action] = {}
    for keyword, action in _TABLE_BY_KEYWORD.items():
        tag = tag_for_keyword(keyword)
        if tag is None:  # a typo here would silently keep an identifying attribute
            raise RuntimeError(f"de-identification table names unknown keyword {keyword}")
        table[int(tag)] = Action(action)
    return table


ACTIONS: dict[int, Action] = _resolve()
