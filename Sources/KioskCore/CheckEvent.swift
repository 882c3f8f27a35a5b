public import CardCheck
public import CardModel
public import Foundation

/// One verdict as the local API shows it: on the event stream, in `/api/v1/taps` and as the
/// answer to `POST /api/v1/check`.
///
/// Carries the masked card number only. The holder's display name is sent live to the screen
/// (to greet the resident) but is never kept in the recent-taps list.
public struct CheckEvent: Sendable, Codable, Equatable {
    /// Where the check came from.
    public enum Source: String, Sendable, Codable {
        /// A card tapped on the reader.
        case tap
        /// A number typed in (`POST /api/v1/check`).
        case check
    }

    public struct Card: Sendable, Codable, Equatable {
        public var masked: String
        public var technology: CardTechnology?
    }

    public struct EntitlementInfo: Sendable, Codable, Equatable {
        public var kind: EntitlementKind
        public var role: FamilyRole?
        public var validUntil: CivilDate?
        public var daysToExpiry: Int?
        public var name: LocalizedText
    }

    public var type: Source
    public var at: Date
    public var card: Card
    public var verdict: Verdict
    public var reason: LocalizedText
    public var reasonCode: String
    public var entitlements: [EntitlementInfo]
    public var daysToExpiry: Int?
    public var assurance: Assurance
    public var acceptedOffline: Bool
    /// `verified` for a tapped card, `unverified` for a typed number (anyone can type a number).
    public var identity: Identity
    /// "Anna K."; only for a tapped card, and never in the retained taps list.
    public var holder: String?
    /// Handle for acting for this card holder; present on `valid` verdicts only.
    public var session: String?
    /// The screen preferences stored with the card: a tapped card's `valid` verdict only, never in the retained list.
    public var preferences: ScreenPreferences?

    init(source: Source, at: Date, result: CheckResult, identity: Identity, session: String?) {
        type = source
        self.at = at
        card = Card(masked: result.card.masked, technology: result.card.technology)
        verdict = result.verdict
        reason = result.reason
        reasonCode = result.reasonCode
        entitlements = result.entitlements.map {
            EntitlementInfo(kind: $0.kind, role: $0.role, validUntil: $0.validUntil, daysToExpiry: $0.daysToExpiry, name: $0.name)
        }
        daysToExpiry = result.daysToExpiry
        assurance = result.assurance
        acceptedOffline = result.acceptedOffline
        self.identity = identity
        // A typed number must not tell a stranger whose it is.
        holder = identity == .verified ? result.holderDisplayName : nil
        self.session = session
    }

    /// The same event without what must not be kept: the holder's name, the session handle and their preferences.
    var redacted: CheckEvent {
        var copy = self
        copy.holder = nil
        copy.session = nil
        copy.preferences = nil
        return copy
    }
}

extension JSONEncoder {
    /// The local API's JSON: snake_case keys, ISO 8601 instants.
    public static var kioskAPI: JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

extension JSONDecoder {
    /// Reads the local API's JSON.
    public static var kioskAPI: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.dateDecodingStrategy = .iso8601
        return d
    }
}
