/// The NFC Forum Type 2 Tag TLV area that starts at page 4 of NTAG and MIFARE Ultralight tags.
///
/// Only what a card check needs: find the first NDEF message TLV, and build a TLV area
/// around one message. See docs/card-format.md, "Tag memory".
public enum NDEFTLV {
    /// TLV tag bytes of NFC Forum Type 2 Tags.
    public enum Tag {
        /// NULL TLV: a single padding byte, no length.
        public static let null: UInt8 = 0x00
        /// Lock Control TLV (skipped by the parser).
        public static let lockControl: UInt8 = 0x01
        /// Memory Control TLV (skipped by the parser).
        public static let memoryControl: UInt8 = 0x02
        /// NDEF Message TLV.
        public static let ndefMessage: UInt8 = 0x03
        /// Proprietary TLV (skipped by the parser).
        public static let proprietary: UInt8 = 0xFD
        /// Terminator TLV: nothing after it is read.
        public static let terminator: UInt8 = 0xFE
    }

    /// The first NDEF message in `userMemory` (bytes from page 4 on), or `nil` when there is none.
    ///
    /// Skips NULL, Lock Control, Memory Control, proprietary and unknown TLVs, stops at the
    /// terminator or the end of the data, and accepts 1-byte and 3-byte (`FF hi lo`) lengths.
    /// A factory-fresh tag (`03 00 FE`) yields an empty message.
    /// - Throws: ``CardMemoryError`` when a TLV runs past the end of the data.
    public static func firstMessage(in userMemory: some Collection<UInt8>) throws(CardMemoryError) -> [UInt8]? {
        let bytes = Array(userMemory)
        var i = 0
        while i < bytes.count {
            let start = i
            let tag = bytes[i]
            i += 1
            if tag == Tag.null { continue }
            if tag == Tag.terminator { return nil }
            guard i < bytes.count else { throw .truncatedTLV(offset: start) }
            var length = Int(bytes[i])
            i += 1
            if length == 0xFF {
                guard i + 2 <= bytes.count else { throw .truncatedTLV(offset: start) }
                length = Int(bytes[i]) << 8 | Int(bytes[i + 1])
                i += 2
                guard length != 0xFFFF else { throw .reservedTLVLength(offset: start) }
            }
            guard length <= bytes.count - i else { throw .truncatedTLV(offset: start) }
            if tag == Tag.ndefMessage { return Array(bytes[i..<(i + length)]) }
            i += length
        }
        return nil
    }

    /// The TLV area for `message`: `03 len message FE`, zero-padded to whole 4-byte pages.
    ///
    /// The length takes one byte up to 254 and three bytes (`FF hi lo`) above.
    public static func area(wrapping message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [Tag.ndefMessage]
        if message.count < 0xFF {
            out.append(UInt8(message.count))
        } else {
            out += [0xFF, UInt8(truncatingIfNeeded: message.count >> 8), UInt8(truncatingIfNeeded: message.count)]
        }
        out += message
        out.append(Tag.terminator)
        while out.count % 4 != 0 { out.append(Tag.null) }
        return out
    }
}

/// One NDEF record.
public struct NDEFRecord: Sendable, Hashable {
    /// Type Name Formats of NDEF records.
    public enum TypeNameFormat: UInt8, Sendable, Hashable {
        /// No type, no payload.
        case empty = 0x00
        /// An NFC Forum well-known type such as `U` (URI) or `T` (text).
        case wellKnown = 0x01
        /// A MIME media type.
        case media = 0x02
        /// An absolute URI as the type.
        case absoluteURI = 0x03
        /// An NFC Forum external type, `domain:name`: the CUS card record is one.
        case external = 0x04
        /// Unknown payload type.
        case unknown = 0x05
        /// A middle or last chunk of a chunked payload.
        case unchanged = 0x06
        /// Reserved by NFC Forum.
        case reserved = 0x07
    }

    /// The record's Type Name Format.
    public var format: TypeNameFormat
    /// The type field (for external types: ASCII `domain:name`).
    public var type: [UInt8]
    /// The ID field, usually empty.
    public var id: [UInt8]
    /// The payload.
    public var payload: [UInt8]
    /// Whether the Chunk Flag was set (the kiosk never writes chunked records).
    public var isChunked: Bool

    /// A record with the given fields.
    public init(format: TypeNameFormat, type: [UInt8], id: [UInt8] = [], payload: [UInt8], isChunked: Bool = false) {
        self.format = format
        self.type = type
        self.id = id
        self.payload = payload
        self.isChunked = isChunked
    }

    /// The records of an NDEF message, in order; an empty message has none.
    ///
    /// Stops at the record with the Message End flag or at the end of `message`.
    /// - Throws: ``CardMemoryError`` when a record runs past the end or the Message Begin flag is wrong.
    public static func records(inMessage message: [UInt8]) throws(CardMemoryError) -> [NDEFRecord] {
        var out: [NDEFRecord] = []
        var i = 0
        while i < message.count {
            let start = i
            let header = message[i]
            i += 1
            let messageBegin = header & 0x80 != 0
            let messageEnd = header & 0x40 != 0
            let chunked = header & 0x20 != 0
            let shortRecord = header & 0x10 != 0
            let hasID = header & 0x08 != 0
            guard messageBegin == out.isEmpty else { throw .badMessageStructure(offset: start) }
            let fixed = 1 + (shortRecord ? 1 : 4) + (hasID ? 1 : 0)
            guard fixed <= message.count - i else { throw .truncatedRecord(offset: start) }
            let typeLength = Int(message[i])
            i += 1
            var payloadLength = 0
            if shortRecord {
                payloadLength = Int(message[i])
                i += 1
            } else {
                for _ in 0..<4 {
                    payloadLength = payloadLength << 8 | Int(message[i])
                    i += 1
                }
            }
            let idLength = hasID ? Int(message[i]) : 0
            if hasID { i += 1 }
            guard typeLength + idLength <= message.count - i,
                  payloadLength <= message.count - i - typeLength - idLength
            else { throw .truncatedRecord(offset: start) }
            let type = Array(message[i..<(i + typeLength)])
            i += typeLength
            let id = Array(message[i..<(i + idLength)])
            i += idLength
            let payload = Array(message[i..<(i + payloadLength)])
            i += payloadLength
            out.append(NDEFRecord(
                format: TypeNameFormat(rawValue: header & 0x07) ?? .reserved,
                type: type, id: id, payload: payload, isChunked: chunked
            ))
            if messageEnd { break }
        }
        return out
    }

    /// This record as the only record of a message (Message Begin and Message End set).
    ///
    /// Uses the short-record form when the payload is under 256 bytes.
    public var messageBytes: [UInt8] {
        let shortRecord = payload.count < 0x100
        var header: UInt8 = 0x80 | 0x40 | format.rawValue
        if shortRecord { header |= 0x10 }
        if !id.isEmpty { header |= 0x08 }
        var out: [UInt8] = [header, UInt8(truncatingIfNeeded: type.count)]
        if shortRecord {
            out.append(UInt8(payload.count))
        } else {
            let n = UInt32(truncatingIfNeeded: payload.count)
            out += [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
        }
        if !id.isEmpty { out.append(UInt8(truncatingIfNeeded: id.count)) }
        out += type
        out += id
        out += payload
        return out
    }
}
