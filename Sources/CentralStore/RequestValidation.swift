import CardModel
public import CentralWire
import Foundation
import ServiceRules

extension RequestItem {
    /// The most bytes a request's `details` may take as JSON: a note, not a document.
    public static let maxDetailsBytes = 4096

    /// Checks that one raw item of `POST /v1/requests` can be read; never throws, so a bad item never fails the batch.
    ///
    /// Only what the central cannot read is refused here (`rejected`). Business rules — the
    /// service in the central's catalogue, the card in its registry, entitlements, quotas — are
    /// judged when the item is stored, and a request that breaks one is kept as `declined`.
    public static func validate(_ raw: JSONValue) -> RequestItem {
        guard case .object = raw else { return .invalid(idempotencyKey: nil, reason: "an item must be a JSON object") }
        var key: String?
        if case .string(let k)? = raw["idempotency_key"] { key = k }
        func fail(_ reason: String) -> RequestItem { .invalid(idempotencyKey: key, reason: reason) }
        /// `nil` for an absent or `null` member.
        func present(_ name: String) -> JSONValue? {
            guard let value = raw[name], value != .null else { return nil }
            return value
        }
        guard let k = key else { return fail("idempotency_key is missing or not a string") }
        guard UUIDv7.isValid(k) else { return fail("idempotency_key must be a UUIDv7, e.g. 0190b7c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d") }
        key = k.lowercased()
        guard case .number(let seq)? = raw["kiosk_seq"], seq >= 0, seq <= 9_007_199_254_740_991, seq.rounded() == seq else {
            return fail("kiosk_seq must be a whole number of 0 or more")
        }
        guard case .string(let created)? = raw["created_at"], InputRules.isRFC3339(created) else {
            return fail("created_at must be an RFC 3339 time, e.g. 2025-03-01T10:15:00Z")
        }
        var kind = RequestKind.service
        if let value = present("kind") {
            guard case .string(let text) = value, let parsed = RequestKind(rawValue: text) else {
                return fail("kind must be \"service\", \"bundle\" or \"callback\", or absent (a service)")
            }
            kind = parsed
        }
        var service: String?
        if let value = present("service") {
            guard case .string(let id) = value, isCatalogueID(id) else {
                return fail("service must be a catalogue id: 1 to 64 lower-case letters, digits or '_' (see GET /v1/catalogue)")
            }
            service = id
        }
        if service == nil, kind != .callback {
            return fail("service is missing: a \(kind.rawValue) request names the \(kind.rawValue) it asks for")
        }
        var number: CardNumber?
        if let value = present("card_number") {
            guard case .string(let text) = value else { return fail("card_number must be a string, or absent for a call-back") }
            do { number = try CardNumber(normalising: text) } catch { return fail("card_number: \(error.message.en)") }
        }
        var identity = RequestIdentity.verified
        if let value = raw["identity"] {
            // Absent means verified (kiosks older than the field); anything but the two words is refused.
            guard case .string(let text) = value, let parsed = RequestIdentity(rawValue: text) else {
                return fail("identity must be \"verified\" (the card was tapped) or \"unverified\" (its number was typed), or absent")
            }
            identity = parsed
        }
        var phone: String?
        if let value = present("phone") {
            guard case .string(let text) = value, text.count <= 40, let normalised = PolishPhone.normalise(text) else {
                return fail("phone must be a Polish number: 9 digits, optionally after +48, e.g. +48 512 345 678")
            }
            phone = normalised
        }
        if kind == .callback {
            guard phone != nil else { return fail("a call-back needs phone, the number to call back on") }
        }
        if kind == .callback || number == nil {
            // Nobody checked who asked: a coordinator confirms the person on the phone.
            identity = .unverified
        }
        var ticket: Ticket?
        if let value = present("ticket") {
            guard case .string(let text) = value, text.count <= 40, let parsed = Ticket(parsing: text) else {
                return fail("ticket must be a ticket code such as B7-4KXMQ (its check character must match)")
            }
            ticket = parsed
        }
        var catalogueVersion: Int64?
        if let value = present("catalogue_version") {
            guard case .number(let v) = value, v >= 0, v <= 9_007_199_254_740_991, v.rounded() == v else {
                return fail("catalogue_version must be a whole number of 0 or more, or absent")
            }
            catalogueVersion = Int64(v)
        }
        let details = present("details") ?? .object([:])
        guard case .object = details else { return fail("details must be a JSON object") }
        guard details.depth <= 4 else { return fail("details may nest at most 4 levels") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(details), data.count <= maxDetailsBytes else {
            return fail("details must be at most \(maxDetailsBytes) bytes of JSON")
        }
        return .valid(RequestSubmission(
            idempotencyKey: k.lowercased(), kioskSeq: Int64(seq), createdAt: created, ticket: ticket, kind: kind, service: service,
            cardNumber: number, detailsJSON: String(decoding: data, as: UTF8.self), identity: identity, phone: phone,
            catalogueVersion: catalogueVersion
        ))
    }

    /// Whether `id` can name a service or bundle (the catalogue's own rule for ids).
    static func isCatalogueID(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count) && id.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }
}
