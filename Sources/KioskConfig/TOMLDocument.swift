/// A parsed TOML file: the subset a kiosk config needs, with the line of every key.
///
/// Supported: comments, `[table]` and `[dotted.table]` headers, bare, quoted and dotted keys,
/// basic and literal strings, integers, floats, booleans and one-line arrays. Anything else is
/// refused with its line number rather than guessed at. (The TOML package in the mirror,
/// TOMLKit, depends on a package that is not available here, so this small reader stands in.)
struct TOMLDocument {
    enum Value: Equatable {
        case string(String)
        case integer(Int64)
        case float(Double)
        case bool(Bool)
        case array([Value])

        var typeName: String {
            switch self {
            case .string: "a string"
            case .integer: "an integer"
            case .float: "a number"
            case .bool: "true or false"
            case .array: "a list"
            }
        }
    }

    struct Entry {
        var value: Value
        var line: Int
    }

    /// Every key as its full dotted path (`http.addr`), in file order.
    private(set) var entries: [(key: String, entry: Entry)] = []

    subscript(key: String) -> Entry? {
        entries.first { $0.key == key }?.entry
    }

    struct SyntaxError: Error {
        var line: Int
        var message: String
        var key: String? = nil
    }

    init(parsing text: String) throws(SyntaxError) {
        var table: [String] = []
        var seenTables: Set<String> = []
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var scanner = Scanner(Array(rawLine.unicodeScalars), line: lineNumber)
            scanner.skipSpace()
            if scanner.atEndOrComment { continue }
            if scanner.peek == "[" {
                scanner.advance()
                if scanner.peek == "[" { throw SyntaxError(line: lineNumber, message: "arrays of tables ([[…]]) are not supported in the kiosk config") }
                table = try scanner.key()
                scanner.skipSpace()
                guard scanner.peek == "]" else { throw SyntaxError(line: lineNumber, message: "expected ] to close the table header") }
                scanner.advance()
                scanner.skipSpace()
                guard scanner.atEndOrComment else { throw SyntaxError(line: lineNumber, message: "unexpected text after the table header") }
                let name = table.joined(separator: ".")
                guard seenTables.insert(name).inserted else { throw SyntaxError(line: lineNumber, message: "table [\(name)] is defined twice") }
                continue
            }
            let key = try scanner.key()
            scanner.skipSpace()
            guard scanner.peek == "=" else { throw SyntaxError(line: lineNumber, message: "expected = after the key \(key.joined(separator: "."))") }
            scanner.advance()
            scanner.skipSpace()
            let value = try scanner.value()
            scanner.skipSpace()
            guard scanner.atEndOrComment else { throw SyntaxError(line: lineNumber, message: "unexpected text after the value") }
            let full = (table + key).joined(separator: ".")
            if let previous = self[full] {
                throw SyntaxError(line: lineNumber, message: "is already set on line \(previous.line)", key: full)
            }
            entries.append((full, Entry(value: value, line: lineNumber)))
        }
    }

    private struct Scanner {
        let s: [Unicode.Scalar]
        var i = 0
        let line: Int

        init(_ s: [Unicode.Scalar], line: Int) {
            self.s = s
            self.line = line
        }

        var peek: Unicode.Scalar? { i < s.count ? s[i] : nil }
        var atEndOrComment: Bool { peek == nil || peek == "#" || peek == "\r" }
        mutating func advance() { i += 1 }
        mutating func skipSpace() { while peek == " " || peek == "\t" { i += 1 } }
        func fail(_ m: String) -> SyntaxError { SyntaxError(line: line, message: m) }

        mutating func key() throws(SyntaxError) -> [String] {
            var parts: [String] = []
            while true {
                skipSpace()
                if peek == "\"" || peek == "'" {
                    guard case .string(let k) = try value() else { throw fail("bad quoted key") }
                    parts.append(k)
                } else {
                    var k = ""
                    while let c = peek, c.properties.isASCIIHexDigit || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" || c == "-" || ("0"..."9").contains(c) {
                        k.unicodeScalars.append(c)
                        advance()
                    }
                    guard !k.isEmpty else { throw fail("expected a key (letters, digits, _ or -)") }
                    parts.append(k)
                }
                skipSpace()
                guard peek == "." else { return parts }
                advance()
            }
        }

        mutating func value() throws(SyntaxError) -> Value {
            guard let c = peek else { throw fail("expected a value after =") }
            switch c {
            case "\"":
                advance()
                if peek == "\"", i + 1 < s.count, s[i + 1] == "\"" { throw fail("multi-line strings are not supported in the kiosk config") }
                var out = ""
                while let ch = peek {
                    advance()
                    if ch == "\"" { return .string(out) }
                    if ch == "\\" {
                        guard let e = peek else { break }
                        advance()
                        switch e {
                        case "n": out.append("\n")
                        case "t": out.append("\t")
                        case "\"": out.append("\"")
                        case "\\": out.append("\\")
                        case "r": out.append("\r")
                        case "u", "U":
                            let n = e == "u" ? 4 : 8
                            guard i + n <= s.count, let v = UInt32(String(String.UnicodeScalarView(s[i..<(i + n)])), radix: 16),
                                  let scalar = Unicode.Scalar(v)
                            else { throw fail("bad \\\(e) escape") }
                            out.unicodeScalars.append(scalar)
                            i += n
                        default: throw fail("unknown escape \\\(e) in a string")
                        }
                    } else {
                        out.unicodeScalars.append(ch)
                    }
                }
                throw fail("string is not closed with \"")
            case "'":
                advance()
                var out = ""
                while let ch = peek {
                    advance()
                    if ch == "'" { return .string(out) }
                    out.unicodeScalars.append(ch)
                }
                throw fail("string is not closed with '")
            case "[":
                advance()
                var items: [Value] = []
                while true {
                    skipSpace()
                    if peek == "]" { advance(); return .array(items) }
                    items.append(try value())
                    skipSpace()
                    if peek == "," { advance(); continue }
                    skipSpace()
                    guard peek == "]" else { throw fail("expected , or ] in the list (lists must fit on one line)") }
                }
            case "{":
                throw fail("inline tables are not supported; use a [table] header")
            default:
                var word = ""
                while let ch = peek, ch != " ", ch != "\t", ch != ",", ch != "]", ch != "#", ch != "\r" {
                    word.unicodeScalars.append(ch)
                    advance()
                }
                if word == "true" { return .bool(true) }
                if word == "false" { return .bool(false) }
                let digits = word.replacingUnderscores()
                if let v = Int64(digits) { return .integer(v) }
                if let v = Double(digits), digits.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { return .float(v) }
                throw fail("\"\(word)\" is not a value; put text in quotes, e.g. \"\(word)\"")
            }
        }
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
