from tests.annotations.conftest import (  # noqa: F401 (fixtures shared with central's tests)
    _audit_head_file,
    _central_signing_key,
    api,
    make_user,
    world,
)
