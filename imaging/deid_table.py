"""PS3.15 Annex E Table E.1-1, Basic Application Level Confidentiality Profile, with the Clean
Descriptors Option (E.3.5): one table of actions per attribute.

``_BASIC_PROFILE`` is the Basic Profile column of E.1-1 as the standard writes it (2023e, every
row; plus the rows added by 2025 that pydicom's dictionary does not name yet, by tag), including
the compound actions. ``_CLEAN_DESCRIPTORS`` lists the rows whose Clean Descriptors Option column
says C. ``_LOCAL`` holds identifying attributes the table does not name, treated as strictly.

Actions (E.1-1 legend): D dummy value, Z zero length, X remove, K keep, C clean, U replace UID
consistently. The compound actions leave the choice to what IOD conformance requires (E.1.1
note: "X unless Z is required to maintain IOD conformance", and so on). What leaves a site is a
summary, never a conformant object, so ``resolve`` takes the strictest alternative:

- X/Z, X/D, X/Z/D → X;  Z/D → Z;
- X/Z/U* (references such as Referenced Image Sequence) → U: kept, every UID inside replaced and
  every other attribute inside handled by its own row (which is what U* asks for the UIDs);
- D on a sequence → X (a dummy item would carry nothing; no IOD needs to be satisfied);
- a row marked C under the Clean Descriptors Option → C, whatever the Basic Profile column says.

Private attributes, curves (50xx) and overlay data/comments (60xx) are removed in ``deid.py``.
``tests/imaging/test_deid.py`` checks the resolution of every row.
"""

from __future__ import annotations

import enum

from pydicom.datadict import dictionary_VR, tag_for_keyword


class Action(enum.StrEnum):
    DUMMY = "D"
    ZERO = "Z"
    REMOVE = "X"
    KEEP = "K"
    CLEAN = "C"
    UID = "U"


# Table E.1-1, Basic Profile column, by keyword (PS3.15 2023e).
_BASIC_PROFILE: dict[str, str] = {
    "AccessionNumber": "Z", "AcquisitionComments": "X", "AcquisitionContextSequence": "X/Z",
    "AcquisitionDate": "X/Z", "AcquisitionDateTime": "X/Z/D",
    "AcquisitionDeviceProcessingDescription": "X/D", "AcquisitionFieldOfViewLabel": "D",
    "AcquisitionProtocolDescription": "X", "AcquisitionTime": "X/Z", "AcquisitionUID": "U",
    "ActualHumanPerformersSequence": "X", "AdditionalPatientHistory": "X", "AddressTrial": "X",
    "AdmissionID": "X", "AdmittingDate": "X", "AdmittingDiagnosesCodeSequence": "X",
    "AdmittingDiagnosesDescription": "X", "AdmittingTime": "X", "AffectedSOPInstanceUID": "X",
    "Allergies": "X", "AnnotationGroupDescription": "X", "AnnotationGroupLabel": "D",
    "AnnotationGroupUID": "D", "ApprovalStatusDateTime": "X", "Arbitrary": "X",
    "AssertionDateTime": "D", "AssertionExpirationDateTime": "X",
    "AttributeModificationDateTime": "D", "AuthorObserverSequence": "X", "BarcodeValue": "X/Z",
    "BeamDescription": "X", "BeamHoldTransitionDateTime": "D", "BolusDescription": "X",
    "BranchOfService": "X", "CalibrationDate": "X", "CalibrationDateTime": "Z",
    "CalibrationTime": "X", "CameraOwnerName": "X", "CassetteID": "X", "CertificateOfSigner": "D",
    "CertifiedTimestamp": "X", "ClinicalTrialCoordinatingCenterName": "Z",
    "ClinicalTrialProtocolEthicsCommitteeApprovalNumber": "X",
    "ClinicalTrialProtocolEthicsCommitteeName": "D", "ClinicalTrialProtocolID": "D",
    "ClinicalTrialProtocolName": "Z", "ClinicalTrialSeriesDescription": "X",
    "ClinicalTrialSeriesID": "X", "ClinicalTrialSiteID": "Z", "ClinicalTrialSiteName": "Z",
    "ClinicalTrialSponsorName": "D", "ClinicalTrialSubjectID": "D",
    "ClinicalTrialSubjectReadingID": "D", "ClinicalTrialTimePointDescription": "X",
    "ClinicalTrialTimePointID": "Z", "CommentsOnRadiationDose": "X",
    "CommentsOnThePerformedProcedureStep": "X", "CompensatorDescription": "X",
    "ConcatenationUID": "U", "ConceptualVolumeCombinationDescription": "Z",
    "ConceptualVolumeDescription": "Z", "ConceptualVolumeUID": "U",
    "ConfidentialityConstraintOnPatientDataDescription": "X",
    "ConstituentConceptualVolumeUID": "U", "ConsultingPhysicianIdentificationSequence": "X",
    "ConsultingPhysicianName": "Z", "ContainerComponentID": "X", "ContainerDescription": "X",
    "ContainerIdentifier": "D", "ContentCreatorIdentificationCodeSequence": "X",
    "ContentCreatorName": "Z/D", "ContentDate": "Z/D", "ContentSequence": "D",
    "ContentTime": "Z/D", "ContextGroupLocalVersion": "D", "ContextGroupVersion": "D",
    "ContrastBolusAgent": "Z/D", "ContrastBolusStartTime": "X", "ContrastBolusStopTime": "X",
    "ContributionDateTime": "X", "ContributionDescription": "X", "CountryOfResidence": "X",
    "CreationDate": "X", "CreationTime": "X", "CurrentObserverTrial": "X",
    "CurrentPatientLocation": "X", "CurveDate": "X", "CurveTime": "X",
    "CustodialOrganizationSequence": "X", "DataSetTrailingPadding": "X", "Date": "D",
    "DateOfDocumentOrVerbalTransactionTrial": "X", "DateOfInstallation": "X",
    "DateOfLastCalibration": "X", "DateOfLastDetectorCalibration": "X/D", "DateOfManufacture": "X",
    "DateOfSecondaryCapture": "X", "DateTime": "D", "DateTimeOfLastCalibration": "X",
    "DecayCorrectionDateTime": "D", "DecompositionDescription": "X", "DerivationDescription": "X",
    "DestinationAE": "D", "DetectorID": "X/D", "DeviceAlternateIdentifier": "Z",
    "DeviceDescription": "X", "DeviceLabel": "D", "DeviceSerialNumber": "X/Z/D",
    "DeviceSettingDescription": "X", "DeviceUID": "U", "DigitalSignatureDateTime": "D",
    "DigitalSignatureUID": "U", "DigitalSignaturesSequence": "X", "DimensionOrganizationUID": "U",
    "DischargeDate": "X", "DischargeDiagnosisDescription": "X", "DischargeTime": "X",
    "DisplacementReferenceLabel": "X", "DistributionAddress": "X", "DistributionName": "X",
    "DoseReferenceDescription": "X", "DoseReferenceUID": "U", "DosimetricObjectiveUID": "U",
    "EffectiveDateTime": "D", "EncapsulatedDocument": "D", "EndAcquisitionDateTime": "X/D",
    "EntityDescription": "X", "EntityLabel": "D", "EntityLongLabel": "D", "EntityName": "X",
    "EquipmentFrameOfReferenceDescription": "X",
    "EthicsCommitteeApprovalEffectivenessEndDate": "X",
    "EthicsCommitteeApprovalEffectivenessStartDate": "X", "EthnicGroup": "X",
    "EthnicGroupCodeSequence": "X", "ExclusionStartDateTime": "D",
    "ExpectedCompletionDateTime": "X", "FailedSOPInstanceUIDList": "U", "FiducialUID": "U",
    "FillerOrderNumberImagingServiceRequest": "Z", "FilterLookupTableDescription": "X",
    "FindingsGroupRecordingDateTrial": "X", "FindingsGroupRecordingTimeTrial": "X",
    "FirstTreatmentDate": "X/D", "FixationDeviceDescription": "X", "FlowIdentifier": "D",
    "FlowIdentifierSequence": "D", "FractionGroupDescription": "X", "FractionationNotes": "Z",
    "FrameAcquisitionDateTime": "D", "FrameComments": "X", "FrameOfReferenceUID": "U",
    "FrameOriginTimestamp": "D", "FrameReferenceDateTime": "D", "FunctionalSyncPulse": "D",
    "GPSAltitude": "X", "GPSAltitudeRef": "X", "GPSAreaInformation": "X", "GPSDOP": "X",
    "GPSDateStamp": "X", "GPSDestBearing": "X", "GPSDestBearingRef": "X", "GPSDestDistance": "X",
    "GPSDestDistanceRef": "X", "GPSDestLatitude": "X", "GPSDestLatitudeRef": "X",
    "GPSDestLongitude": "X", "GPSDestLongitudeRef": "X", "GPSDifferential": "X",
    "GPSImgDirection": "X", "GPSImgDirectionRef": "X", "GPSLatitude": "X", "GPSLatitudeRef": "X",
    "GPSLongitude": "X", "GPSLongitudeRef": "X", "GPSMapDatum": "X", "GPSMeasureMode": "X",
    "GPSProcessingMethod": "X", "GPSSatellites": "X", "GPSSpeed": "X", "GPSSpeedRef": "X",
    "GPSStatus": "X", "GPSTimeStamp": "X", "GPSTrack": "X", "GPSTrackRef": "X",
    "GPSVersionID": "X", "GantryID": "X", "GeneratorID": "X", "GraphicAnnotationSequence": "D",
    "HL7DocumentEffectiveTime": "X", "HangingProtocolCreationDateTime": "D",
    "HumanPerformerName": "X", "HumanPerformerOrganization": "X", "IconImageSequence": "X",
    "IdentifyingComments": "X", "ImageComments": "X", "ImagePresentationComments": "X",
    "ImagingServiceRequestComments": "X", "ImpedanceMeasurementDateTime": "D", "Impressions": "X",
    "InformationIssueDateTime": "D", "InstanceCoercionDateTime": "X",
    "InstanceCreationDate": "X/D", "InstanceCreationTime": "X/Z/D", "InstanceCreatorUID": "U",
    "InstanceOriginStatus": "X", "InstitutionAddress": "X", "InstitutionCodeSequence": "X/Z/D",
    "InstitutionName": "X/Z/D", "InstitutionalDepartmentName": "X",
    "InstitutionalDepartmentTypeCodeSequence": "X", "InstructionPerformedDateTime": "Z/D",
    "InsurancePlanIdentification": "X", "IntendedFractionStartTime": "X",
    "IntendedPhaseEndDate": "X/D", "IntendedPhaseStartDate": "X/D",
    "IntendedRecipientsOfResultsIdentificationSequence": "X", "InterlockDateTime": "D",
    "InterlockDescription": "D", "InterlockOriginDescription": "D",
    "InterpretationApprovalDate": "X", "InterpretationApprovalTime": "X",
    "InterpretationApproverSequence": "X", "InterpretationAuthor": "X",
    "InterpretationDiagnosisDescription": "X", "InterpretationID": "X",
    "InterpretationIDIssuer": "X", "InterpretationRecordedDate": "X",
    "InterpretationRecordedTime": "X", "InterpretationRecorder": "X", "InterpretationText": "X",
    "InterpretationTranscriber": "X", "InterpretationTranscriptionDate": "X",
    "InterpretationTranscriptionTime": "X", "InterventionDrugStartTime": "X",
    "InterventionDrugStopTime": "X", "IrradiationEventUID": "U",
    "IssueDateOfImagingServiceRequest": "X", "IssueTimeOfImagingServiceRequest": "X",
    "IssuerOfAdmissionID": "X", "IssuerOfAdmissionIDSequence": "X", "IssuerOfPatientID": "X",
    "IssuerOfServiceEpisodeID": "X", "IssuerOfServiceEpisodeIDSequence": "X",
    "IssuerOfTheContainerIdentifierSequence": "Z", "IssuerOfTheSpecimenIdentifierSequence": "Z",
    "LabelText": "X/Z", "LargePaletteColorLookupTableUID": "U", "LastMenstrualDate": "X",
    "LensMake": "X", "LensModel": "X", "LensSerialNumber": "X", "LensSpecification": "X",
    "LongDeviceDescription": "X", "MAC": "X", "MakerNote": "X", "ManufacturerDeviceClassUID": "U",
    "ManufacturerDeviceIdentifier": "Z", "MediaStorageSOPInstanceUID": "U", "MedicalAlerts": "X",
    "MedicalRecordLocator": "X", "MilitaryRank": "X", "ModifiedAttributesSequence": "X",
    "ModifiedImageDate": "X", "ModifiedImageDescription": "X", "ModifiedImageTime": "X",
    "ModifyingDeviceID": "X", "ModifyingSystem": "D", "MostRecentTreatmentDate": "X/D",
    "MultienergyAcquisitionDescription": "X", "MultiplexGroupUID": "U",
    "NameOfPhysiciansReadingStudy": "X", "NamesOfIntendedRecipientsOfResults": "X",
    "NetworkID": "X", "NonconformingDataElementValue": "X",
    "NonconformingModifiedAttributesSequence": "X", "ObservationDateTime": "X/D",
    "ObservationDateTrial": "X", "ObservationStartDateTime": "X",
    "ObservationSubjectUIDTrial": "U", "ObservationTimeTrial": "X", "ObservationUID": "U",
    "Occupation": "X", "OperatorIdentificationSequence": "X/D", "OperatorsName": "X/Z/D",
    "OrderCallbackPhoneNumber": "X", "OrderCallbackTelecomInformation": "X", "OrderEnteredBy": "X",
    "OrderEntererLocation": "X", "OriginalAttributesSequence": "X", "Originator": "X",
    "OtherPatientIDs": "X", "OtherPatientIDsSequence": "X", "OtherPatientNames": "X",
    "OverlayDate": "X", "OverlayTime": "X", "OverrideDateTime": "D",
    "PaletteColorLookupTableUID": "U", "ParticipantSequence": "X", "ParticipationDateTime": "Z",
    "PatientAddress": "X", "PatientAge": "X", "PatientBirthDate": "Z", "PatientBirthName": "X",
    "PatientBirthTime": "X", "PatientComments": "X", "PatientID": "Z",
    "PatientInstitutionResidence": "X", "PatientInsurancePlanCodeSequence": "X",
    "PatientMotherBirthName": "X", "PatientName": "Z", "PatientPrimaryLanguageCodeSequence": "X",
    "PatientPrimaryLanguageModifierCodeSequence": "X", "PatientReligiousPreference": "X",
    "PatientSetupPhotoDescription": "X", "PatientSetupUID": "U", "PatientSex": "Z",
    "PatientSexNeutered": "X/Z", "PatientSize": "X", "PatientState": "X",
    "PatientTelecomInformation": "X", "PatientTelephoneNumbers": "X",
    "PatientTransportArrangements": "X", "PatientTreatmentPreparationMethodDescription": "X",
    "PatientTreatmentPreparationProcedureParameterDescription": "X", "PatientWeight": "X",
    "PerformedLocation": "X", "PerformedProcedureStepDescription": "X",
    "PerformedProcedureStepEndDate": "X", "PerformedProcedureStepEndDateTime": "X",
    "PerformedProcedureStepEndTime": "X", "PerformedProcedureStepID": "X",
    "PerformedProcedureStepStartDate": "X", "PerformedProcedureStepStartDateTime": "X",
    "PerformedProcedureStepStartTime": "X", "PerformedStationAETitle": "X",
    "PerformedStationGeographicLocationCodeSequence": "X", "PerformedStationName": "X",
    "PerformedStationNameCodeSequence": "X", "PerformingPhysicianIdentificationSequence": "X",
    "PerformingPhysicianName": "X", "PersonAddress": "X", "PersonIdentificationCodeSequence": "D",
    "PersonName": "D", "PersonTelecomInformation": "X", "PersonTelephoneNumbers": "X",
    "PhysicianApprovingInterpretation": "X", "PhysiciansOfRecord": "X",
    "PhysiciansOfRecordIdentificationSequence": "X",
    "PhysiciansReadingStudyIdentificationSequence": "X",
    "PlacerOrderNumberImagingServiceRequest": "Z", "PlateID": "X",
    "PositionAcquisitionTemplateDescription": "X", "PositionAcquisitionTemplateName": "X",
    "PreMedication": "X", "PregnancyStatus": "X", "PrescriptionDescription": "X",
    "PrescriptionNotes": "Z", "PrescriptionNotesSequence": "Z", "PresentationCreationDate": "X",
    "PresentationCreationTime": "X", "PresentationDisplayCollectionUID": "U",
    "PresentationSequenceCollectionUID": "U", "PriorTreatmentDoseDescription": "X",
    "ProcedureStepCancellationDateTime": "X", "ProductExpirationDateTime": "X",
    "ProtocolName": "X/D", "PyramidDescription": "X", "PyramidLabel": "X", "PyramidUID": "U",
    "ROIDescription": "X", "ROIGenerationDescription": "X", "ROIInterpreter": "Z", "ROIName": "Z",
    "ROIObservationDescription": "X", "ROIObservationLabel": "X", "RTAccessoryDeviceSlotID": "Z",
    "RTAccessoryHolderSlotID": "Z", "RTPhysicianIntentNarrative": "Z", "RTPlanDate": "X/D",
    "RTPlanDescription": "X", "RTPlanLabel": "D", "RTPlanName": "X", "RTPlanTime": "X/D",
    "RTPrescriptionLabel": "D", "RTToleranceSetLabel": "D", "RTTreatmentApproachLabel": "X/D",
    "RTTreatmentPhaseUID": "U", "RadiationDoseIdentificationLabel": "D",
    "RadiationDoseInVivoMeasurementLabel": "D", "RadiationGenerationModeDescription": "Z",
    "RadiationGenerationModeLabel": "D", "RadiopharmaceuticalStartDateTime": "X",
    "RadiopharmaceuticalStartTime": "X", "RadiopharmaceuticalStopDateTime": "X",
    "RadiopharmaceuticalStopTime": "X", "ReasonForOmissionDescription": "X",
    "ReasonForRequestedProcedureCodeSequence": "X", "ReasonForStudy": "X",
    "ReasonForSuperseding": "Z", "ReasonForTheAttributeModification": "D",
    "ReasonForTheImagingServiceRequest": "X", "ReasonForTheRequestedProcedure": "X",
    "ReasonForVisit": "X", "ReasonForVisitCodeSequence": "X", "ReceivingAE": "X",
    "RecordedRTControlPointDateTime": "D", "ReferencedConceptualVolumeUID": "U",
    "ReferencedDateTime": "D", "ReferencedDigitalSignatureSequence": "X",
    "ReferencedDoseReferenceUID": "U", "ReferencedDosimetricObjectiveUID": "U",
    "ReferencedFiducialsUID": "U", "ReferencedFrameOfReferenceUID": "U",
    "ReferencedGeneralPurposeScheduledProcedureStepTransactionUID": "U",
    "ReferencedImageSequence": "X/Z/U*", "ReferencedObservationUIDTrial": "U",
    "ReferencedPatientAliasSequence": "X", "ReferencedPatientPhotoSequence": "X",
    "ReferencedPatientSequence": "X", "ReferencedPerformedProcedureStepSequence": "X/Z/D",
    "ReferencedSOPInstanceMACSequence": "X", "ReferencedSOPInstanceUID": "U",
    "ReferencedSOPInstanceUIDInFile": "U", "ReferencedStudySequence": "X/Z",
    "ReferencedTreatmentPositionGroupUID": "U", "ReferringPhysicianAddress": "X",
    "ReferringPhysicianIdentificationSequence": "X", "ReferringPhysicianName": "Z",
    "ReferringPhysicianTelephoneNumbers": "X", "RegionOfResidence": "X",
    "RelatedFrameOfReferenceUID": "U", "RequestAttributesSequence": "X",
    "RequestedContrastAgent": "X", "RequestedProcedureComments": "X",
    "RequestedProcedureDescription": "X/Z", "RequestedProcedureID": "X",
    "RequestedProcedureLocation": "X", "RequestedSOPInstanceUID": "U",
    "RequestedSeriesDescription": "X", "RequestingAE": "X", "RequestingPhysician": "X",
    "RequestingService": "X", "RespiratoryMotionCompensationTechniqueDescription": "X",
    "ResponsibleOrganization": "X", "ResponsiblePerson": "X", "ResultsComments": "X",
    "ResultsDistributionListSequence": "X", "ResultsID": "X", "ResultsIDIssuer": "X",
    "RetrieveAETitle": "X", "ReviewDate": "Z", "ReviewTime": "Z", "ReviewerName": "X/Z",
    "SOPAuthorizationDateTime": "X", "SOPInstanceUID": "U", "SafePositionExitDate": "D",
    "SafePositionExitTime": "D", "SafePositionReturnDate": "D", "SafePositionReturnTime": "D",
    "ScheduledAdmissionDate": "X", "ScheduledAdmissionTime": "X", "ScheduledDischargeDate": "X",
    "ScheduledDischargeTime": "X", "ScheduledHumanPerformersSequence": "X",
    "ScheduledPatientInstitutionResidence": "X",
    "ScheduledPerformingPhysicianIdentificationSequence": "X",
    "ScheduledPerformingPhysicianName": "X", "ScheduledProcedureStepDescription": "X",
    "ScheduledProcedureStepEndDate": "X", "ScheduledProcedureStepEndTime": "X",
    "ScheduledProcedureStepExpirationDateTime": "X", "ScheduledProcedureStepID": "X",
    "ScheduledProcedureStepLocation": "X", "ScheduledProcedureStepModificationDateTime": "X",
    "ScheduledProcedureStepStartDate": "X", "ScheduledProcedureStepStartDateTime": "X",
    "ScheduledProcedureStepStartTime": "X", "ScheduledStationAETitle": "X",
    "ScheduledStationGeographicLocationCodeSequence": "X", "ScheduledStationName": "X",
    "ScheduledStationNameCodeSequence": "X", "ScheduledStudyLocation": "X",
    "ScheduledStudyLocationAETitle": "X", "ScheduledStudyStartDate": "X",
    "ScheduledStudyStartTime": "X", "ScheduledStudyStopDate": "X", "ScheduledStudyStopTime": "X",
    "SelectorAEValue": "D", "SelectorASValue": "D", "SelectorDAValue": "D", "SelectorDTValue": "D",
    "SelectorLOValue": "D", "SelectorLTValue": "D", "SelectorOBValue": "D", "SelectorPNValue": "D",
    "SelectorSHValue": "D", "SelectorSTValue": "D", "SelectorTMValue": "D", "SelectorUNValue": "D",
    "SelectorURValue": "D", "SelectorUTValue": "D", "SeriesDate": "X/D", "SeriesDescription": "X",
    "SeriesInstanceUID": "U", "SeriesTime": "X/D", "ServiceEpisodeDescription": "X",
    "ServiceEpisodeID": "X", "SetupTechniqueDescription": "X", "ShieldingDeviceDescription": "X",
    "SlideIdentifier": "X", "SmokingStatus": "X", "SourceConceptualVolumeUID": "U",
    "SourceEndDateTime": "D", "SourceFrameOfReferenceUID": "U", "SourceIdentifier": "D",
    "SourceImageSequence": "X/Z/U*", "SourceManufacturer": "X", "SourceOfPreviousValues": "Z",
    "SourceSerialNumber": "X/Z", "SourceStartDateTime": "D", "SourceStrengthReferenceDate": "D",
    "SourceStrengthReferenceTime": "D", "SpecialNeeds": "X", "SpecimenAccessionNumber": "X",
    "SpecimenDetailedDescription": "X", "SpecimenIdentifier": "D",
    "SpecimenPreparationSequence": "Z", "SpecimenShortDescription": "X", "SpecimenUID": "U",
    "StartAcquisitionDateTime": "X/D", "StationAETitle": "X", "StationName": "X/Z/D",
    "StorageMediaFileSetUID": "U", "StructureSetDate": "Z", "StructureSetDescription": "X",
    "StructureSetLabel": "D", "StructureSetName": "X", "StructureSetTime": "Z",
    "StudyArrivalDate": "X", "StudyArrivalTime": "X", "StudyComments": "X",
    "StudyCompletionDate": "X", "StudyCompletionTime": "X", "StudyDate": "Z",
    "StudyDescription": "X", "StudyID": "Z", "StudyIDIssuer": "X", "StudyInstanceUID": "U",
    "StudyReadDate": "X", "StudyReadTime": "X", "StudyTime": "Z", "StudyVerifiedDate": "X",
    "StudyVerifiedTime": "X", "SubstanceAdministrationDateTime": "X",
    "SynchronizationFrameOfReferenceUID": "U", "TargetUID": "U", "TelephoneNumberTrial": "X",
    "TemplateExtensionCreatorUID": "U", "TemplateExtensionOrganizationUID": "U",
    "TemplateLocalVersion": "X", "TemplateVersion": "X", "TextComments": "X", "TextString": "X",
    "Time": "D", "TimeOfDocumentCreationOrVerbalTransactionTrial": "X",
    "TimeOfLastCalibration": "X", "TimeOfLastDetectorCalibration": "X/D",
    "TimeOfSecondaryCapture": "X", "TimezoneOffsetFromUTC": "X", "TopicAuthor": "X",
    "TopicKeywords": "X", "TopicSubject": "X", "TopicTitle": "X", "TrackingUID": "U",
    "TransactionUID": "U", "TransducerIdentificationSequence": "X",
    "TreatmentControlPointDate": "D", "TreatmentControlPointTime": "D", "TreatmentDate": "X/D",
    "TreatmentMachineName": "X/Z", "TreatmentPositionGroupLabel": "D",
    "TreatmentPositionGroupUID": "U", "TreatmentSessionUID": "U", "TreatmentSite": "X/D",
    "TreatmentSites": "X", "TreatmentTechniqueNotes": "Z", "TreatmentTime": "X/D",
    "TreatmentToleranceViolationDateTime": "D", "TreatmentToleranceViolationDescription": "D",
    "UDISequence": "X", "UID": "U", "UniqueDeviceIdentifier": "X", "UserContentLabel": "D",
    "UserContentLongLabel": "D", "VerbalSourceIdentifierCodeSequenceTrial": "X",
    "VerbalSourceTrial": "X", "VerificationDateTime": "D",
    "VerifyingObserverIdentificationCodeSequence": "Z", "VerifyingObserverName": "D",
    "VerifyingObserverSequence": "D", "VerifyingOrganization": "D", "VisitComments": "X",
    "WaveformFilterDescription": "X", "XRayDetectorID": "D", "XRayDetectorLabel": "X",
    "XRaySourceID": "D",
}  # fmt: skip

# Rows of E.1-1 newer than pydicom's data dictionary, by tag.
_BASIC_PROFILE_BY_TAG: dict[int, str] = {
    0x00100041: "X", 0x00100044: "X", 0x00100045: "X", 0x00102162: "X", 0x0040A034: "X",
    0x0040A035: "X", 0x0040B034: "X",
}  # fmt: skip

# Rows whose Clean Descriptors Option column says C (E.3.5).
_CLEAN_DESCRIPTORS: frozenset[str] = frozenset({
    "AcquisitionComments", "AcquisitionDeviceProcessingDescription",
    "AcquisitionProtocolDescription", "AdditionalPatientHistory", "AdmittingDiagnosesCodeSequence",
    "AdmittingDiagnosesDescription", "Allergies", "BeamDescription", "BolusDescription",
    "ClinicalTrialSeriesDescription", "ClinicalTrialTimePointDescription",
    "CommentsOnThePerformedProcedureStep", "CompensatorDescription",
    "ConceptualVolumeCombinationDescription", "ConceptualVolumeDescription",
    "ContainerDescription", "ContrastBolusAgent", "ContributionDescription",
    "DecompositionDescription", "DerivationDescription", "DeviceSettingDescription",
    "DischargeDiagnosisDescription", "DoseReferenceDescription", "EntityDescription",
    "EntityLabel", "EntityLongLabel", "EntityName", "EquipmentFrameOfReferenceDescription",
    "FixationDeviceDescription", "FractionGroupDescription", "FractionationNotes", "FrameComments",
    "IdentifyingComments", "ImageComments", "ImagingServiceRequestComments", "Impressions",
    "InterlockDescription", "InterlockOriginDescription", "InterpretationDiagnosisDescription",
    "InterpretationText", "LabelText", "LongDeviceDescription", "MakerNote", "MedicalAlerts",
    "MultienergyAcquisitionDescription", "Occupation", "PatientComments", "PatientState",
    "PerformedProcedureStepDescription", "PrescriptionDescription", "PrescriptionNotes",
    "PrescriptionNotesSequence", "PriorTreatmentDoseDescription", "ProtocolName",
    "RTPhysicianIntentNarrative", "RTPlanDescription", "RTPlanLabel", "RTPlanName",
    "RTPrescriptionLabel", "RTToleranceSetLabel", "RTTreatmentApproachLabel",
    "RadiationDoseIdentificationLabel", "RadiationDoseInVivoMeasurementLabel",
    "RadiationGenerationModeDescription", "RadiationGenerationModeLabel",
    "ReasonForOmissionDescription", "ReasonForRequestedProcedureCodeSequence", "ReasonForStudy",
    "ReasonForSuperseding", "ReasonForTheImagingServiceRequest", "ReasonForTheRequestedProcedure",
    "ReasonForVisit", "ReasonForVisitCodeSequence", "RequestAttributesSequence",
    "RequestedContrastAgent", "RequestedProcedureComments", "RequestedProcedureDescription",
    "RespiratoryMotionCompensationTechniqueDescription", "ResultsComments",
    "ScheduledProcedureStepDescription", "SeriesDescription", "ServiceEpisodeDescription",
    "SetupTechniqueDescription", "ShieldingDeviceDescription", "SpecimenDetailedDescription",
    "SpecimenShortDescription", "StudyComments", "StudyDescription", "TreatmentPositionGroupLabel",
    "TreatmentSite", "TreatmentTechniqueNotes", "TreatmentToleranceViolationDescription",
    "UserContentLabel", "UserContentLongLabel", "VisitComments",
})  # fmt: skip

# Not rows of E.1-1 but identifying (issuers, alternative calendars, orders, signatures, UIDs).
_LOCAL: dict[str, str] = {
    "AssertionUID": "U", "ContextGroupExtensionCreatorUID": "U", "CreatorVersionUID": "U",
    "EvaluatorName": "X", "FillerOrderNumberProcedure": "X",
    "IssuerOfAccessionNumberSequence": "X", "IssuerOfPatientIDQualifiersSequence": "X",
    "OrderFillerIdentifierSequence": "X", "OrderPlacerIdentifierSequence": "X",
    "PatientAlternativeCalendar": "X", "PatientBirthDateInAlternativeCalendar": "X",
    "PatientDeathDateInAlternativeCalendar": "X", "PlacerOrderNumberProcedure": "X",
    "ReferencedRequestSequence": "X", "SOPInstanceUIDOfConcatenationSource": "U", "Signature": "X",
    "SourceApplicationEntityTitle": "X", "TextValue": "X",
}  # fmt: skip


_COMPOUND = {"X/Z": "X", "X/D": "X", "X/Z/D": "X", "Z/D": "Z", "X/Z/U*": "U"}


def resolve(tag: int, basic: str, *, clean: bool) -> Action:
    """The action for one row of E.1-1 (see the module docstring for the choices)."""
    if clean:
        return Action.CLEAN
    action = Action(_COMPOUND.get(basic, basic))
    if action is Action.DUMMY and _vr(tag) == "SQ":
        return Action.REMOVE
    return action


def _vr(tag: int) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "UN"


def _tag(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    if tag is None:  # a typo here would silently keep an identifying attribute
        raise RuntimeError(f"de-identification table names unknown keyword {keyword}")
    return int(tag)


def _resolve() -> dict[int, Action]:
    unknown = _CLEAN_DESCRIPTORS - set(_BASIC_PROFILE)
    if unknown:
        raise RuntimeError(f"Clean Descriptors rows not in the Basic Profile: {sorted(unknown)}")
    table = {_tag(keyword): Action(action) for keyword, action in _LOCAL.items()}
    rows = {_tag(keyword): (action, keyword in _CLEAN_DESCRIPTORS)
            for keyword, action in _BASIC_PROFILE.items()}  # fmt: skip
    rows.update({tag: (action, False) for tag, action in _BASIC_PROFILE_BY_TAG.items()})
    for tag, (basic, clean) in rows.items():
        table[tag] = resolve(tag, basic, clean=clean)
    return table


ACTIONS: dict[int, Action] = _resolve()
