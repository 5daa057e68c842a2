import os
import shutil

import pytest

# Fixtures shared across stages: real SMTP (aiosmtpd) and IMAP (Dovecot) servers on 127.0.0.1.
pytest_plugins = ["helpers.mailservers"]


def _need(binary: str, what: str):
    """Skip locally when a real client is missing, but never in CI: there it is a failure."""
    if shutil.which(binary):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} ({binary}) is missing in CI; scripts/test.sh should have installed it")
    pytest.skip(f"{what} not installed; scripts/test.sh installs it")


@pytest.fixture
def libreoffice():
    _need("soffice", "LibreOffice")
