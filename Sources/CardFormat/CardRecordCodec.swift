public import CardModel
import Crypto

/// Builds what an issuing station writes to a blank tag: payload, NDEF message, TLV image.
public enum CardRecordEncoder {
    /// The signed version-1 payload of `content` for the chip `uid`, signed with `key`.
    /// - Throws: ``CardEncodingError`` for content the format cannot carry.
    public static func payload(for content: CardRecordContent, uid: ChipUID, key: CardSigningKey) throws(CardEncodingError) -> [UInt8] {
        let signed = try content.signedPart(uid: uid, keyID: key.keyID)
        return signed + (try key.signature(for: CardRecordFormat.signaturePrefix + signed))
    }

    /// The NDEF message: one short external-type record `cus-starachowice.pl:card` holding the payload.
    public static func ndefMessage(for content: CardRecordContent, uid: ChipUID, key: CardSigningKey) throws(CardEncodingError) -> [UInt8] {
        let payload = try payload(for: content, uid: uid, key: key)
        return NDEFRecord(format: .external, type: CardRecordFormat.recordType, payload: payload).messageBytes
    }

    /// The bytes to write from page 4 on: `03 len message FE`, zero-padded to whole pages.
    ///
    /// Write them page by page (4 bytes per WRITE) starting at page 4; page 3 must already hold
    /// ``TagType/capabilityContainer``.
    /// - Throws: ``CardEncodingError/doesNotFit(needed:capacity:tag:)`` when the tag is too small.
    public static func userMemory(for content: CardRecordContent, uid: ChipUID, key: CardSigningKey, tag: TagType) throws(CardEncodingError) -> [UInt8] {
        try userMemory(wrapping: ndefMessage(for: content, uid: uid, key: key), tag: tag)
    }

    /// The TLV image for any NDEF `message`, checked against the tag's data area.
    public static func userMemory(wrapping message: [UInt8], tag: TagType) throws(CardEncodingError) -> [UInt8] {
        let image = NDEFTLV.area(wrapping: message)
        guard image.count <= tag.dataAreaSize else {
            throw .doesNotFit(needed: image.count, capacity: tag.dataAreaSize, tag: tag)
        }
        return image
    }
}

/// What a tag's user memory says about the card, for the reader to turn into a ``Presentation``.
public enum CardRecordCheck: Sendable, Hashable {
    /// No CUS record on the tag: check the card by its UID alone.
    case noRecord
    /// A CUS record whose signature holds for this chip under a trusted key.
    case verified(VerifiedCardRecord)
    /// A CUS record that must not be believed.
    case counterfeit(CounterfeitReason)
    /// A CUS record of a format version this kiosk does not know: check the card by its UID alone.
    ///
    /// Not counterfeit: a card issued after a format upgrade must not be refused by a kiosk
    /// that was not updated yet. Nothing is lost, because a forger could as well erase the
    /// record; a UID-only check gives only what the replica says about that chip.
    case unsupportedVersion(UInt8)

    /// The presentation of this result for a chip with `uid` and `technology`.
    public func presentation(uid: ChipUID, technology: CardTechnology) -> Presentation {
        switch self {
        case .noRecord, .unsupportedVersion: .chip(uid: uid, technology: technology, record: nil)
        case .verified(let record): .chip(uid: uid, technology: technology, record: record)
        case .counterfeit(let why): .counterfeit(uid: uid, technology: technology, why: why)
        }
    }
}

/// Reads and verifies CUS card records against a set of trusted keys.
public struct CardRecordVerifier: Sendable {
    /// The keys whose signatures are accepted.
    public var trustedKeys: TrustedKeys

    /// A verifier trusting `trustedKeys`.
    public init(trustedKeys: TrustedKeys) {
        self.trustedKeys = trustedKeys
    }

    /// Checks the user memory (bytes from page 4 on) of the chip `uid`.
    ///
    /// The first NDEF record of type `cus-starachowice.pl:card` is checked; other records are
    /// ignored, and a second CUS record makes the card ``CounterfeitReason/malformed``.
    /// - Throws: ``CardMemoryError`` when the bytes are not a complete TLV area or NDEF message.
    public func check(userMemory: some Collection<UInt8>, uid: ChipUID) throws(CardMemoryError) -> CardRecordCheck {
        guard let message = try NDEFTLV.firstMessage(in: userMemory) else { return .noRecord }
        let cusRecords = try NDEFRecord.records(inMessage: message).filter(Self.isCUSRecord)
        guard let record = cusRecords.first else { return .noRecord }
        guard cusRecords.count == 1, !record.isChunked else { return .counterfeit(.malformed) }
        return check(payload: record.payload, uid: uid)
    }

    /// Checks a CUS record payload for the chip `uid`.
    ///
    /// The order of the checks fixes the reason: a payload that does not parse is
    /// ``CounterfeitReason/malformed``; an untrusted key id ``CounterfeitReason/unknownKey``;
    /// a signature that does not verify over the payload as written ``CounterfeitReason/badSignature``;
    /// a valid signature for a UID other than the one read ``CounterfeitReason/otherChip``
    /// (a genuine record copied onto another chip).
    public func check(payload: [UInt8], uid: ChipUID) -> CardRecordCheck {
        let parsed: ParsedPayload
        do {
            parsed = try ParsedPayload(payload: payload)
        } catch .unsupportedVersion(let version) {
            return .unsupportedVersion(version)
        } catch {
            return .counterfeit(.malformed)
        }
        guard let key = trustedKeys.publicKey(for: parsed.keyID) else { return .counterfeit(.unknownKey) }
        guard key.isValidSignature(parsed.signature, for: CardRecordFormat.signaturePrefix + parsed.signedPart) else {
            return .counterfeit(.badSignature)
        }
        guard parsed.uid == uid else { return .counterfeit(.otherChip) }
        return .verified(VerifiedCardRecord(
            number: parsed.content.number,
            entitlements: parsed.orderedEntitlements,
            role: parsed.content.role,
            validUntil: parsed.content.validUntil,
            keyID: parsed.keyID
        ))
    }

    /// The presentation for a tag read completely (pages 4… as far as the tag has them).
    ///
    /// Memory whose TLV or NDEF framing is broken holds no record that can be identified as a
    /// CUS record, so the card is checked by its UID alone, like an old-series chip with
    /// arbitrary memory: that never refuses a genuine card, and gives a forger nothing that
    /// erasing the record would not. A read that failed part-way must not get here; the reader
    /// reports it as ``Presentation/unreadable(technology:)`` itself.
    public func presentation(userMemory: some Collection<UInt8>, uid: ChipUID, technology: CardTechnology) -> Presentation {
        do {
            return try check(userMemory: userMemory, uid: uid).presentation(uid: uid, technology: technology)
        } catch {
            return .chip(uid: uid, technology: technology, record: nil)
        }
    }

    static func isCUSRecord(_ record: NDEFRecord) -> Bool {
        record.format == .external && record.type.count == CardRecordFormat.recordType.count
            && zip(record.type, CardRecordFormat.recordType).allSatisfy { asciiLower($0) == $1 }
    }

    static func asciiLower(_ c: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c) ? c + 32 : c
    }
}
