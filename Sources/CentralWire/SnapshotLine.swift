import CardModel

/// One card of the registry snapshot as one NDJSON line, written and read without `JSONEncoder`/`JSONDecoder`.
///
/// A 5 M-card snapshot is 5 M small objects of one fixed shape, and Foundation's coders spent about half of
/// the central's and of the kiosk's time on them. ``write(_:into:)`` writes the very JSON the central's
/// `JSONEncoder` wrote (sorted keys, `null` for absent values, no spaces); ``parse(_:)`` reads exactly that
/// shape and nothing else: any other valid JSON (spaces, another key order, escapes, unknown keys) makes it
/// return `nil`, and the caller decodes the line with `JSONDecoder` as before. So ``parse(_:)`` never
/// accepts a line `JSONDecoder` would refuse, nor reads one differently (`SnapshotLineTests` compares the two).
public enum SnapshotLine {
    /// Appends `card` as one JSON object (no newline).
    public static func write(_ card: CardView, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"entitlements":["#.utf8)
        for (i, e) in card.entitlements.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"kind":"#.utf8)
            string(e.kind.rawValue, &out)
            out.append(contentsOf: #","role":"#.utf8)
            optional(e.role?.rawValue, &out)
            out.append(contentsOf: #","valid_from":"#.utf8)
            string(e.validFrom.iso, &out)
            out.append(contentsOf: #","valid_until":"#.utf8)
            optional(e.validUntil?.iso, &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: #"],"holder_display_name":"#.utf8)
        string(card.holderDisplayName, &out)
        out.append(contentsOf: #","number":"#.utf8)
        string(card.number, &out)
        out.append(contentsOf: #","person_id":"#.utf8)
        string(card.personID, &out)
        out.append(contentsOf: #","replaced_by_uid":"#.utf8)
        optional(card.replacedByUID, &out)
        out.append(contentsOf: #","series":"#.utf8)
        optional(card.series, &out)
        out.append(contentsOf: #","status":"#.utf8)
        string(card.status.rawValue, &out)
        out.append(contentsOf: #","technology":"#.utf8)
        string(card.technology.rawValue, &out)
        out.append(contentsOf: #","uid":"#.utf8)
        optional(card.uid, &out)
        out.append(contentsOf: #","valid_from":"#.utf8)
        optional(card.validFrom?.iso, &out)
        out.append(contentsOf: #","valid_until":"#.utf8)
        optional(card.validUntil?.iso, &out)
        out.append(UInt8(ascii: "}"))
    }

    private static func optional(_ value: String?, _ out: inout [UInt8]) {
        if let value { string(value, &out) } else { out.append(contentsOf: "null".utf8) }
    }

    /// A JSON string: quotes, backslashes and control characters escaped, everything else as UTF-8.
    private static func string(_ value: String, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The card on a line ``write(_:into:)`` wrote, or `nil` for anything else (decode that with `JSONDecoder`).
    public static func parse(_ line: UnsafeBufferPointer<UInt8>) -> CardView? {
        var p = Cursor(bytes: line)
        guard p.literal(#"{"entitlements":["#) else { return nil }
        var entitlements: [EntitlementView] = []
        if !p.literal("]") {
            repeat {
                guard p.literal(#"{"kind":"#), let kind = p.string(as: EntitlementKind.init(rawValue:)),
                      p.literal(#","role":"#), let role = p.optional(as: FamilyRole.init(rawValue:)),
                      p.literal(#","valid_from":"#), let from = p.string(as: Self.day),
                      p.literal(#","valid_until":"#), let until = p.optional(as: Self.day), p.literal("}")
                else { return nil }
                entitlements.append(EntitlementView(kind: kind, role: role, validFrom: from, validUntil: until))
            } while p.literal(",")
            guard p.literal("]") else { return nil }
        }
        guard p.literal(#","holder_display_name":"#), let name = p.string(),
              p.literal(#","number":"#), let number = p.string(),
              p.literal(#","person_id":"#), let person = p.string(),
              p.literal(#","replaced_by_uid":"#), let replacedBy = p.optional(as: { $0 }),
              p.literal(#","series":"#), let series = p.optional(as: { $0 }),
              p.literal(#","status":"#), let status = p.string(as: CardStatus.init(rawValue:)),
              p.literal(#","technology":"#), let technology = p.string(as: CardTechnology.init(rawValue:)),
              p.literal(#","uid":"#), let uid = p.optional(as: { $0 }),
              p.literal(#","valid_from":"#), let from = p.optional(as: Self.day),
              p.literal(#","valid_until":"#), let until = p.optional(as: Self.day),
              p.literal("}"), p.atEnd
        else { return nil }
        return CardView(
            number: number, uid: uid, technology: technology, series: series, status: status, validFrom: from,
            validUntil: until, replacedByUID: replacedBy, holderDisplayName: name, personID: person, entitlements: entitlements
        )
    }

    /// A day as `JSONDecoder` reads one (`CivilDate`'s own parser), or `nil`.
    private static func day(_ text: String) -> CivilDate? { try? CivilDate(iso: text) }

    /// Reads the fixed shape left to right.
    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0

        var atEnd: Bool { at == bytes.count }

        /// Skips `text` if the line goes on with exactly it.
        mutating func literal(_ text: StaticString) -> Bool {
            let n = text.utf8CodeUnitCount
            guard bytes.count - at >= n else { return false }
            let expected = UnsafeBufferPointer(start: text.utf8Start, count: n)
            for i in 0..<n where bytes[at + i] != expected[i] { return false }
            at += n
            return true
        }

        /// A string without escapes or control characters, valid UTF-8; `nil` for anything else.
        mutating func string() -> String? {
            guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { return nil }
            let start = at + 1
            var end = start
            while end < bytes.count {
                let b = bytes[end]
                if b == UInt8(ascii: "\"") { break }
                if b == UInt8(ascii: "\\") || b < 0x20 { return nil }
                end += 1
            }
            guard end < bytes.count else { return nil }
            guard let value = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self) else { return nil }
            at = end + 1
            return value
        }

        /// A string read by `make`; `nil` if either refuses it.
        mutating func string<T>(as make: (String) -> T?) -> T? {
            string().flatMap(make)
        }

        /// `null` as `.some(nil)`, a string read by `make` as `.some(value)`; `nil` for anything else.
        mutating func optional<T>(as make: (String) -> T?) -> T?? {
            if literal("null") { return .some(nil) }
            guard let value = string(as: make) else { return nil }
            return .some(value)
        }
    }
}
