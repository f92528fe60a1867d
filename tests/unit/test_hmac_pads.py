"""The HMAC pads given to dbt reproduce RFC 2104 HMAC-SHA256 (checked in Python here,
in SQL by tests/integration/test_marts.py)."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from warehouse.build import hmac_pads


@pytest.mark.parametrize("key", [b"short", b"k" * 64, b"a-much-longer-secret-" * 5])
def test_pads_compute_the_same_hmac(key):
    pads = hmac_pads(key)
    message = b"51140219800101001X"
    inner = hashlib.sha256(bytes.fromhex(pads["PII_HMAC_IPAD"]) + message).digest()
    outer = hashlib.sha256(bytes.fromhex(pads["PII_HMAC_OPAD"]) + inner).hexdigest()
    assert outer == hmac.new(key, message, hashlib.sha256).hexdigest()
