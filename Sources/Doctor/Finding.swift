public import CardModel

/// How one check came out.
public enum FindingStatus: String, Sendable, Codable, Equatable, CaseIterable {
    /// Fine.
    case ok
    /// The kiosk can serve, but this is worth fixing.
    case warning
    /// The kiosk is not fit to serve until this is fixed.
    case problem
    /// Not checked (not applicable here, or not possible as this user); the message says why.
    case skipped
}

/// One check's result: a stable ``id`` (see docs/operations.md), what was found and what to do,
/// in Polish and English.
public struct Finding: Sendable, Equatable, Encodable {
    /// A stable identifier such as `reader.present`; `config.warning` may appear more than once.
    public var id: String
    /// The outcome.
    public var status: FindingStatus
    /// What was found, in plain words.
    public var message: LocalizedText
    /// What to do about it; `nil` when nothing needs doing.
    public var fix: LocalizedText?
    /// Facts behind the message (paths, modes, addresses) for the technician and for machines.
    public var detail: [String: String]

    /// Creates a finding.
    public init(_ id: String, _ status: FindingStatus, _ message: LocalizedText, fix: LocalizedText? = nil, detail: [String: String] = [:]) {
        self.id = id
        self.status = status
        self.message = message
        self.fix = fix
        self.detail = detail
    }

    private enum CodingKeys: String, CodingKey { case id, status, message, fix, detail }

    /// Always writes every key (`fix` as `null` when there is nothing to do), so the structure is stable.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(status, forKey: .status)
        try c.encode(message, forKey: .message)
        if let fix { try c.encode(fix, forKey: .fix) } else { try c.encodeNil(forKey: .fix) }
        try c.encode(detail, forKey: .detail)
    }
}

/// Everything `kioskctl doctor` found.
public struct DoctorReport: Sendable, Equatable, Encodable {
    /// Whether the kiosk is fit to serve: no finding is a ``FindingStatus/problem`` (warnings allowed).
    public var fit: Bool { !checks.contains { $0.status == .problem } }
    /// The findings, in the order they were checked.
    public var checks: [Finding]

    /// Creates a report.
    public init(checks: [Finding]) {
        self.checks = checks
    }

    /// The finding with `id` (the first, for a repeated id).
    public func finding(_ id: String) -> Finding? { checks.first { $0.id == id } }

    private enum CodingKeys: String, CodingKey { case fit, checks }

    /// `{"fit": …, "checks": […]}`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(fit, forKey: .fit)
        try c.encode(checks, forKey: .checks)
    }
}

/// Shorthand for a message in both languages.
/// Doctor speaks to technicians in Polish and English (its output has no Ukrainian); `uk` carries the English.
func text(_ pl: String, _ en: String) -> LocalizedText { LocalizedText(pl: pl, uk: en, en: en) }
