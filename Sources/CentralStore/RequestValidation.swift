import CardModel
public import CentralWire
import Foundation
import ServiceRules

extension RequestItem {
    /// The most bytes a request's `details` may take as JSON: a note, not a document.
    public static let maxDetailsBytes = 4096

    /// Checks one raw item of `POST /v1/requests`; never throws, so a bad item never fails the batch.
    public static func validate(_ raw: JSONValue) -> RequestItem {
        guard case .object = raw else { return .invalid(idempotencyKey: nil, reason: "an item must be a JSON object") }
        var key: String?
        if case .string(let k)? = raw["idempotency_key"] { key = k }
        func fail(_ reason: String) -> RequestItem { .invalid(idempotencyKey: key, reason: reason) }
        guard let k = key else { return fail("idempotency_key is missing or not a string") }
        guard UUIDv7.isValid(k) else { return fail("idempotency_key must be a UUIDv7, e.g. 0190b7c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d") }
        key = k.lowercased()
        guard case .number(let seq)? = raw["kiosk_seq"], seq >= 0, seq <= 9_007_199_254_740_991, seq.rounded() == seq else {
            return fail("kiosk_seq must be a whole number of 0 or more")
        }
        guard case .string(let created)? = raw["created_at"], InputRules.isRFC3339(created) else {
            return fail("created_at must be an RFC 3339 time, e.g. 2025-03-01T10:15:00Z")
        }
        guard case .string(let service)? = raw["service"] else { return fail("service is missing or not a string") }
        guard StandardCatalogue.catalogue.service(id: service) != nil else {
            return fail("service \"\(InputRules.echo(service))\" is not in the catalogue (GET /v1/services)")
        }
        guard case .string(let numberText)? = raw["card_number"] else { return fail("card_number is missing or not a string") }
        let number: CardNumber
        do { number = try CardNumber(normalising: numberText) } catch { return fail("card_number: \(error.message.en)") }
        var identity = RequestIdentity.verified
        if let value = raw["identity"] {
            // Absent means verified (kiosks older than the field); anything but the two words is refused.
            guard case .string(let text) = value, let parsed = RequestIdentity(rawValue: text) else {
                return fail("identity must be \"verified\" (the card was tapped) or \"unverified\" (its number was typed), or absent")
            }
            identity = parsed
        }
        let details = raw["details"] ?? .object([:])
        guard case .object = details else { return fail("details must be a JSON object") }
        guard details.depth <= 4 else { return fail("details may nest at most 4 levels") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(details), data.count <= maxDetailsBytes else {
            return fail("details must be at most \(maxDetailsBytes) bytes of JSON")
        }
        return .valid(RequestSubmission(
            idempotencyKey: k.lowercased(), kioskSeq: Int64(seq), createdAt: created, service: service,
            cardNumber: number, detailsJSON: String(decoding: data, as: UTF8.self), identity: identity
        ))
    }
}
