import CardModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the card registry spreadsheets the town keeps (UTF-8 CSV, `,` or `;` separated).
///
/// Columns, in any order, named in a header row: `card_number, uid, entitlement, role,
/// first_name, last_name, valid_from, valid_until, status`. Every row is checked on its own:
/// good rows come back in ``Result/rows``, bad ones in ``Result/errors`` with their line.
///
/// The parser is written here rather than taken from a CSV package because error reports must
/// name the physical line of every refused row, and a broken row must never take others with it:
/// no registry field holds a line break, so a quote still open at the end of a line is that row's
/// error (reported with its line) and the next line is read as a row of its own.
public enum RegistryCSV {
    /// The columns a registry file must have.
    public static let columns = [
        "card_number", "uid", "entitlement", "role", "first_name", "last_name", "valid_from", "valid_until", "status",
    ]

    /// What came out of one file.
    public struct Result: Sendable {
        public var rows: [RegistryRow]
        public var errors: [RowError]
    }

    /// Why a whole file could not be read (as opposed to a single bad row).
    public enum FileError: Error, Sendable, Equatable, CustomStringConvertible {
        case notUTF8
        case empty
        case missingColumns([String])
        case duplicateColumn(String)

        public var description: String {
            switch self {
            case .notUTF8: "the file is not UTF-8 text; save it from the spreadsheet as \"CSV UTF-8\""
            case .empty: "the file is empty; it needs a header row and at least one card"
            case .missingColumns(let c): "the header row lacks the column(s) \(c.joined(separator: ", ")); expected \(RegistryCSV.columns.joined(separator: ", "))"
            case .duplicateColumn(let c): "the header row names the column \(c) twice"
            }
        }
    }

    /// Parses and checks a registry file's bytes.
    ///
    /// - Parameter progress: told the lines read so far and the file's line count (counted first, by
    ///   one fast scan for line feeds) now and then while the file is split and its rows checked.
    public static func parse(_ data: [UInt8], progress: ((_ lines: Int, _ total: Int) -> Void)? = nil) throws(FileError) -> Result {
        var bytes = data[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .notUTF8 }
        let total = progress == nil ? 0 : lineCount(data)
        let records = splitRecords(text) { line in progress?(line / 2, total) }
        guard let header = records.first(where: { !$0.isBlank }) else { throw .empty }
        var index: [String: Int] = [:]
        for (i, name) in header.fields.enumerated() {
            let key = name.trimmingWhitespace().lowercased()
            guard !key.isEmpty else { continue }
            if index[key] != nil { throw .duplicateColumn(key) }
            index[key] = i
        }
        let missing = columns.filter { index[$0] == nil }
        guard missing.isEmpty else { throw .missingColumns(missing) }

        var result = Result(rows: [], errors: [])
        for record in records where record.line > header.line && (record.error != nil || !record.isBlank) {
            if record.line % 1024 == 0 { progress?(total / 2 + record.line / 2, total) }
            if let problem = record.error {
                result.errors.append(RowError(line: record.line, reason: problem))
                continue
            }
            do {
                result.rows.append(try row(record, index))
            } catch {
                result.errors.append(error)
            }
        }
        progress?(total, total)
        return result
    }

    /// Lines in `data`: its line feeds, plus one for a last line without one.
    static func lineCount(_ data: [UInt8]) -> Int {
        data.withUnsafeBufferPointer { buffer -> Int in
            guard var p = buffer.baseAddress.map(UnsafeRawPointer.init) else { return 0 }
            let end = p + buffer.count
            var count = 0
            while p < end, let hit = memchr(p, 0x0A, end - p) {
                count += 1
                p = UnsafeRawPointer(hit) + 1
            }
            return count + (buffer.last == 0x0A ? 0 : 1)
        }
    }

    private static func row(_ r: Record, _ index: [String: Int]) throws(RowError) -> RegistryRow {
        func field(_ name: String) -> String {
            guard let i = index[name], i < r.fields.count else { return "" }
            return r.fields[i].trimmingWhitespace()
        }
        func fail(_ why: String) -> RowError { RowError(line: r.line, reason: why) }

        let number: CardNumber
        do { number = try CardNumber(normalising: field("card_number")) } catch {
            throw fail("card_number: \(error.message.en)")
        }
        var uid: ChipUID?
        if !field("uid").isEmpty {
            do {
                let parsed = try ChipUID(hex: field("uid"))
                guard parsed.bytes.count == 4 || parsed.bytes.count == 7 else { throw ChipUIDError.badLength(parsed.bytes.count) }
                uid = parsed
            } catch {
                throw fail("uid: \"\(field("uid"))\" is not a chip UID (4 or 7 bytes in hex, e.g. 04:A2:24:1A:7B:5C:80)")
            }
        }
        guard let kind = EntitlementKind(rawValue: field("entitlement").lowercased()) else {
            throw fail("entitlement: \"\(field("entitlement"))\" is not one of \(EntitlementKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var role: FamilyRole?
        let roleText = field("role").lowercased()
        if kind == .largeFamily {
            guard let r = FamilyRole(rawValue: roleText) else {
                throw fail("role: a large_family entitlement needs role parent or child, not \"\(field("role"))\"")
            }
            role = r
        } else if !roleText.isEmpty {
            throw fail("role: only large_family entitlements have a role; leave it empty for \(kind.rawValue)")
        }
        let first = field("first_name")
        guard !first.isEmpty else { throw fail("first_name is empty") }
        let last = field("last_name")
        guard !last.isEmpty else { throw fail("last_name is empty") }
        let from: CivilDate
        do { from = try CivilDate(iso: field("valid_from")) } catch {
            throw fail("valid_from: \"\(field("valid_from"))\": \(error)")
        }
        var until: CivilDate?
        if !field("valid_until").isEmpty {
            do { until = try CivilDate(iso: field("valid_until")) } catch {
                throw fail("valid_until: \"\(field("valid_until"))\": \(error) (leave it empty for no end date)")
            }
            if let until, until < from { throw fail("valid_until \(until) is before valid_from \(from)") }
        }
        guard let status = CardStatus(rawValue: field("status").lowercased()) else {
            throw fail("status: \"\(field("status"))\" is not one of \(CardStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return RegistryRow(
            line: r.line, cardNumber: number, uid: uid, entitlement: kind, role: role,
            firstName: first, lastName: last, validFrom: from, validUntil: until, status: status
        )
    }

    struct Record {
        var line: Int
        var fields: [String]
        /// Why the line could not be split into fields (an unclosed quote).
        var error: String? = nil
        var isBlank: Bool { fields.allSatisfy { $0.trimmingWhitespace().isEmpty } }
    }

    static let unclosedQuote = "a quote (\") opened in this row is not closed before the end of the line; close it or remove it"

    /// Splits CSV text into records (RFC 4180 quoting within a line), guessing the separator from the first line.

    static func splitRecords(_ text: String, progress: ((_ line: Int) -> Void)? = nil) -> [Record] {
        let firstLine = text.prefix { $0 != "\n" && $0 != "\r\n" }
        let sep: Character = firstLine.filter { $0 == ";" }.count > firstLine.filter { $0 == "," }.count ? ";" : ","
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var line = 1
        var recordLine = 1
        var chars = text.makeIterator()
        var pending: Character? = nil
        func next() -> Character? {
            if let p = pending { pending = nil; return p }
            return chars.next()
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" { field.append("\"") } else { inQuotes = false; pending = n }
                    } else { inQuotes = false }
                } else if c == "\n" || c == "\r\n" || c == "\r" {
                    // The quote never closed on its line: refuse this row, read the next line afresh.
                    records.append(Record(line: recordLine, fields: [], error: unclosedQuote))
                    fields = []
                    field = ""
                    inQuotes = false
                    line += 1
                    recordLine = line
                } else {
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"" where field.trimmingWhitespace().isEmpty:
                field = ""
                inQuotes = true
            case sep:
                fields.append(field)
                field = ""
            case "\n", "\r\n", "\r":
                fields.append(field)
                records.append(Record(line: recordLine, fields: fields))
                fields = []
                field = ""
                line += 1
                recordLine = line
                if line & 1023 == 0 { progress?(line) }
            default:
                field.append(c)
            }
        }
        if inQuotes {
            records.append(Record(line: recordLine, fields: [], error: unclosedQuote))
        } else if !field.isEmpty || !fields.isEmpty {
            fields.append(field)
            records.append(Record(line: recordLine, fields: fields))
        }
        return records
    }
}
