"""Sealing OAuth tokens with AWS KMS before they reach the table.

Each ciphertext is bound to its portal through the KMS encryption context `{"portal_id": ...}`:
a ciphertext copied to another portal's item does not decrypt, and every use shows in CloudTrail
with the portal it concerns. Plaintext never appears in messages, logs or reprs.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from botocore.exceptions import ClientError

from hubnox.errors import HubnoxError
from hubnox.store.table import translated_aws_errors

#: The encryption context key every token is sealed under; the key policy in template.yaml requires it.
PORTAL_CONTEXT = "portal_id"

_KMS_TRANSIENT = frozenset(
    {"ThrottlingException", "KMSInternalException", "DependencyTimeoutException", "KeyUnavailableException"}
)


class TokenCipherError(HubnoxError):
    """A stored ciphertext does not open with this key for this portal (tampered, moved or corrupt)."""

    code = "TOKEN_CIPHER"


class TokenCipher:
    """Encrypts and decrypts tokens with one KMS key, bound to the portal they belong to."""

    def __init__(self, kms_client: Any, key_id: str) -> None:
        self._kms = kms_client
        self._key_id = key_id

    def __repr__(self) -> str:
        return f"TokenCipher(key_id={self._key_id!r})"

    def encrypt(self, plaintext: str, portal_id: str) -> str:
        """The base64 KMS ciphertext of `plaintext`, openable only with the same `portal_id`."""
        with translated_aws_errors("KMS Encrypt", _KMS_TRANSIENT):
            response = self._kms.encrypt(
                KeyId=self._key_id,
                Plaintext=plaintext.encode("utf-8"),
                EncryptionContext=_context(portal_id),
            )
        return base64.b64encode(response["CiphertextBlob"]).decode("ascii")

    def decrypt(self, ciphertext: str, portal_id: str) -> str:
        """The plaintext sealed by `encrypt` for this `portal_id`; `TokenCipherError` otherwise."""
        try:
            blob = base64.b64decode(ciphertext, validate=True)
        except (binascii.Error, ValueError) as error:
            raise TokenCipherError(f"the stored token of portal {portal_id} is not base64") from error
        try:
            with translated_aws_errors("KMS Decrypt", _KMS_TRANSIENT):
                response = self._kms.decrypt(
                    KeyId=self._key_id, CiphertextBlob=blob, EncryptionContext=_context(portal_id)
                )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise TokenCipherError(
                f"the stored token of portal {portal_id} does not decrypt with this key and portal ({code})"
            ) from error
        return bytes(response["Plaintext"]).decode("utf-8")


def _context(portal_id: str) -> dict[str, str]:
    if not portal_id:
        raise ValueError("a token is always sealed for a portal")
    return {PORTAL_CONTEXT: portal_id}
