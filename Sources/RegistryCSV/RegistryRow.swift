public import CardModel

/// One checked row of a registry spreadsheet: one entitlement on one card.
public struct RegistryRow: Sendable, Hashable {
    /// The physical line in the file (1 is the header), for error reports.
    public var line: Int
    public var cardNumber: CardNumber
    /// `nil` for a chipless (printed) card.
    public var uid: ChipUID?
    public var entitlement: EntitlementKind
    public var role: FamilyRole?
    public var firstName: String
    public var lastName: String
    public var validFrom: CivilDate
    /// `nil`: no end date.
    public var validUntil: CivilDate?
    public var status: CardStatus

    public init(
        line: Int, cardNumber: CardNumber, uid: ChipUID?, entitlement: EntitlementKind, role: FamilyRole?,
        firstName: String, lastName: String, validFrom: CivilDate, validUntil: CivilDate?, status: CardStatus
    ) {
        self.line = line
        self.cardNumber = cardNumber
        self.uid = uid
        self.entitlement = entitlement
        self.role = role
        self.firstName = firstName
        self.lastName = lastName
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.status = status
    }

    /// First name and the initial of the last name ("Anna K."): all of the name the kiosk keeps.
    public var displayName: String {
        let initial = lastName.trimmingWhitespace().first.map { "\($0.uppercased())." } ?? ""
        return [firstName.trimmingWhitespace(), initial].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// The entitlement this row grants.
    public var entitlementValue: Entitlement {
        Entitlement(kind: entitlement, role: role, validFrom: validFrom, validUntil: validUntil)
    }
}

/// A row that was refused, with its line and the reason, in words a registry clerk can act on.
public struct RowError: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var reason: String

    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }

    public var description: String { "line \(line): \(reason)" }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        // Most fields have nothing to trim: a printable ASCII byte at each end says so without asking each
        // Character for its Unicode properties (a fifth of parsing a 200,000-row export).
        var s = Substring(self)
        if let first = s.utf8.first, let last = s.utf8.last, (0x21...0x7E).contains(first), (0x21...0x7E).contains(last) {
            return String(s)
        }
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
