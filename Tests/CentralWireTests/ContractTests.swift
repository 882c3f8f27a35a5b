import CardModel
import CentralWire
import Foundation
import Testing
import Yams

/// The wire types both sides use (``CentralWire``) against the hand-kept contract in
/// `docs/openapi/central.yaml`: every schema's property names, its `required` list (a property the
/// type always encodes, even as `null`), and its enums. A field added to one and not the other fails here.
@Suite("CentralWire matches docs/openapi/central.yaml")
struct ContractTests {
    static var schemas: [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/openapi/central.yaml").standardized
        guard let text = try? String(contentsOf: url, encoding: .utf8),
              let document = try? Yams.load(yaml: text) as? [String: Any],
              let components = document["components"] as? [String: Any],
              let schemas = components["schemas"] as? [String: Any]
        else { return [:] }
        return schemas
    }

    /// The keys a value encodes to, and those it encodes even when empty (`null`).
    static func keys<T: Encodable>(_ value: T) throws -> Set<String> {
        let data = try JSONEncoder().encode(value)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return Set(object.keys)
    }

    static func schema(_ name: String) throws -> (properties: Set<String>, required: Set<String>) {
        let schema = try #require(schemas[name] as? [String: Any], "no schema \(name) in central.yaml")
        let properties = try #require(schema["properties"] as? [String: Any], "\(name) has no properties")
        return (Set(properties.keys), Set(schema["required"] as? [String] ?? []))
    }

    static func enumValues(_ name: String) throws -> Set<String> {
        let schema = try #require(schemas[name] as? [String: Any], "no schema \(name) in central.yaml")
        return Set((schema["enum"] as? [Any] ?? []).compactMap { $0 as? String })
    }

    static let day = CivilDate(Date(timeIntervalSince1970: 1_764_547_200), in: .warsaw)
    static let entitlement = EntitlementView(kind: .largeFamily, role: .child, validFrom: day, validUntil: day)
    static let bareEntitlement = EntitlementView(kind: .senior60, role: nil, validFrom: day, validUntil: nil)
    static let card = CardView(
        number: "KDR1001", uid: "04A1102233448", technology: .ntag215, series: "2026", status: .active, validFrom: day, validUntil: day,
        replacedByUID: "04A11022334499", holderDisplayName: "Anna K.", personID: "p-1", entitlements: [entitlement]
    )
    static let bareCard = CardView(
        number: "KDR1001", uid: nil, technology: .printed, series: nil, status: .active, validFrom: nil, validUntil: nil,
        replacedByUID: nil, holderDisplayName: "Anna K.", personID: "p-1", entitlements: []
    )
    static let status = RequestStatusView(requestID: 7, idempotencyKey: UUIDv7.make(), status: .scheduled, scheduledAt: "2026-12-02T10:00:00Z")

    /// Every property the schema names is one the type writes when filled, and nothing else;
    /// every `required` one is written even when empty.
    func check<T: Encodable>(_ name: String, full: T, empty: T) throws {
        let (properties, required) = try Self.schema(name)
        #expect(try Self.keys(full) == properties, "\(name): the type and the schema name different fields")
        #expect(required.isSubset(of: try Self.keys(empty)), "\(name): a required field is left out when empty")
    }

    @Test("the contract file is there and parses")
    func loads() {
        #expect(Self.schemas.count > 10)
    }

    @Test("feed and snapshot: Entitlement, Card, RequestStatusView, Change, ChangePage")
    func feed() throws {
        try check("Entitlement", full: Self.entitlement, empty: Self.bareEntitlement)
        try check("Card", full: Self.card, empty: Self.bareCard)
        try check("RequestStatusView", full: Self.status, empty: RequestStatusView(requestID: 1, idempotencyKey: "k", status: .received))
        try check(
            "Change",
            full: Change(seq: 1, op: .upsert, card: Self.card, request: Self.status),
            empty: Change(seq: 1, op: .remove, card: nil, request: nil)
        )
        try check("ChangePage", full: ChangePage(changes: [], nextAfter: 3, hasMore: false), empty: ChangePage(changes: [], nextAfter: 0, hasMore: false))
    }

    @Test("requests: RequestItem, RequestResult")
    func requests() throws {
        let item = RequestWireItem(
            idempotencyKey: UUIDv7.make(), kioskSeq: 1, createdAt: "2026-12-01T10:00:00Z", service: "senior_taxi", cardNumber: "SKS0001",
            details: .object(["note": .string("x")]), identity: .unverified
        )
        try check("RequestItem", full: item, empty: item)
        let result = RequestResult(idempotencyKey: "k", outcome: .duplicate, requestID: 3, reason: "r", firstOutcome: .accepted)
        try check("RequestResult", full: result, empty: RequestResult(idempotencyKey: nil, outcome: .accepted))
    }

    @Test("enums: entitlement kinds, technologies, card and request statuses, change ops, identities")
    func enums() throws {
        #expect(try Self.enumValues("EntitlementKind") == Set(EntitlementKind.allCases.map(\.rawValue)))
        #expect(try Self.enumValues("Technology") == Set(CardTechnology.allCases.map(\.rawValue)))
        #expect(try Self.enumValues("CardStatus") == Set(CardStatus.allCases.map(\.rawValue)))
        #expect(try Self.enumValues("RequestStatus") == Set(RequestStatus.allCases.map(\.rawValue)))
        let change = try #require(Self.schemas["Change"] as? [String: Any])
        let op = try #require((change["properties"] as? [String: Any])?["op"] as? [String: Any])
        #expect(Set(op["enum"] as? [String] ?? []) == Set(ChangeOp.allCases.map(\.rawValue)))
        let item = try #require(Self.schemas["RequestItem"] as? [String: Any])
        let identity = try #require((item["properties"] as? [String: Any])?["identity"] as? [String: Any])
        #expect(Set(identity["enum"] as? [String] ?? []) == Set(RequestIdentity.allCases.map(\.rawValue)))
    }

    @Test("UUIDv7: keys are valid, increasing, and carry their time")
    func uuid() {
        let a = UUIDv7.make(), b = UUIDv7.make()
        #expect(UUIDv7.isValid(a) && UUIDv7.isValid(b) && a < b)
        #expect(UUIDv7.millis(of: "0190b7c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d") == 0x0190_b7c4_5e6f)
        #expect(!UUIDv7.isValid("0190b7c4-5e6f-6a8b-9c0d-1e2f3a4b5c6d"))
    }
}

