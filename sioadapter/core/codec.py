"""The one place where cluster messages become bytes, signed and within the size limit.

A :class:`Codec` holds the node's wire family, its signer and its size limit. Outbound, it
encodes, signs, and refuses what is over ``max_message_size`` *before* anything is queued (the
caller gets :class:`~sioadapter.errors.MessageTooLargeError`). Inbound, ``unseal`` strips or
verifies signatures; the receiver (:mod:`sioadapter.core.inbound`) checks the size first and
decodes with the family last, so that oversized, unsigned and forged payloads are never decoded.
"""

from __future__ import annotations

from ..errors import MessageTooLargeError
from ..wire.base import Family
from ..wire.signing import Signer, strip
from .effects import Publish
from .messages import ClusterMessage

__all__ = ["Codec"]


class Codec:
    """Encoding, signing and size limits of one node.

    Args:
        family: the wire family (channel names and byte layouts).
        signer: signs what is published and verifies what is received (None: no keys; other
            nodes' signatures are stripped unverified).
        require_signatures: with a signer, refuse unsigned messages.
        max_message_size: bytes, or None for no limit.
    """

    def __init__(
        self,
        family: Family,
        signer: Signer | None = None,
        *,
        require_signatures: bool = True,
        max_message_size: int | None = None,
    ) -> None:
        self.family = family
        self.signer = signer
        self.require_signatures = require_signatures
        self.max_message_size = max_message_size

    def encode(self, message: ClusterMessage, *, use_room_channel: bool = True) -> Publish:
        """``message`` ready to publish. TypeError if it cannot be encoded,
        MessageTooLargeError if it is over the limit (nothing was queued either way)."""
        channel, payload = self.family.encode(message, use_room_channel=use_room_channel)
        if self.signer is not None:
            payload = self.signer.sign(channel, payload)
        limit = self.max_message_size
        if limit is not None and len(payload) > limit:
            raise MessageTooLargeError(len(payload), limit)
        return Publish(channel, payload)

    def unseal(self, channel: str, payload: bytes) -> bytes:
        """The payload without its signature. SignatureError (unsigned or forged) when this
        node has keys and the signature does not verify."""
        if self.signer is None:
            return strip(payload)  # signed by nodes that have keys: decodable all the same
        return self.signer.verify(channel, payload, require=self.require_signatures)
