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

    static let text = LocalizedText(pl: "Tak", uk: "Так", en: "Yes")
    static let reason = StatusReason(code: "quota_used", text: text)
    static let ticket = Ticket(kiosk: 7, sequence: 42)
    static let fee = Fee(kind: .discounted, amountGrosze: 500, per: text)
    static let field = DetailField(id: "when", kind: .dateWindow, label: text, required: true, min: 1, max: 14)
    static let service = ServiceDefinition(
        id: "senior_taxi", name: text, description: text, provider: Provider(kind: .cus, name: "CUS"),
        access: [AccessRule(entitlement: .largeFamily, roles: [.parent], fee: fee)], publicFee: fee, fields: [field],
        quota: Quota(limit: 4), hours: ServiceHours(), offered: true, leadDays: 1, nextStep: text
    )
    static let bareService = ServiceDefinition(
        id: "psychologist", name: text, description: text, provider: Provider(kind: .partner, name: "P"), access: [], publicFee: nil,
        fields: [DetailField(id: "note", kind: .note, label: text, required: false)], quota: nil, hours: ServiceHours(), nextStep: text
    )
    static let bundle = ServiceBundle(id: "b", name: text, description: text, services: ["senior_taxi", "psychologist"], nextStep: text)
    static let catalogue = Catalogue(version: 3, services: [service, bareService], bundles: [bundle])
    static let status = RequestStatusView(
        requestID: 7, idempotencyKey: UUIDv7.make(), status: .declined, scheduledAt: "2026-12-02T10:00:00Z", scheduledFor: "2026-12-02",
        reason: reason, ticket: ticket
    )

    @Test("feed and snapshot: Entitlement, Card, RequestStatusView, Change, ChangePage")
    func feed() throws {
        try check("Entitlement", full: Self.entitlement, empty: Self.bareEntitlement)
        try check("Card", full: Self.card, empty: Self.bareCard)
        try check("RequestStatusView", full: Self.status, empty: RequestStatusView(requestID: 1, idempotencyKey: "k", status: .received))
        try check(
            "Change",
            full: Change(seq: 1, op: .upsert, card: Self.card, request: Self.status, catalogue: Self.catalogue),
            empty: Change(seq: 1, op: .remove, card: nil, request: nil)
        )
        try check("ChangePage", full: ChangePage(changes: [], nextAfter: 3, hasMore: false), empty: ChangePage(changes: [], nextAfter: 0, hasMore: false))
    }

    @Test("the catalogue: Catalogue, ServiceDefinition, Provider, AccessRule, Fee, DetailField, Quota, ServiceHours, ServiceBundle, LocalizedText")
    func catalogueTypes() throws {
        try check("Catalogue", full: Self.catalogue, empty: Catalogue(version: 1, services: [], bundles: []))
        try check("ServiceDefinition", full: Self.service, empty: Self.bareService)
        try check("Provider", full: Self.service.provider, empty: Self.bareService.provider)
        try check("AccessRule", full: Self.service.access[0], empty: AccessRule(entitlement: .senior60, fee: .free))
        try check("Fee", full: Self.fee, empty: Fee.free)
        try check("DetailField", full: Self.field, empty: Self.bareService.fields[0])
        try check("Quota", full: Quota(limit: 2), empty: Quota(limit: 1))
        try check("ServiceHours", full: ServiceHours(), empty: ServiceHours())
        try check("ServiceBundle", full: Self.bundle, empty: Self.bundle)
        try check("LocalizedText", full: Self.text, empty: Self.text)
        // A whole catalogue reads back as it was written.
        let data = try JSONEncoder().encode(Self.catalogue)
        #expect(try JSONDecoder().decode(Catalogue.self, from: data) == Self.catalogue)
    }

    @Test("requests: RequestItem, RequestResult, StatusReason, HolderQuery, HolderRequest, HolderRequests")
    func requests() throws {
        let item = RequestWireItem(
            idempotencyKey: UUIDv7.make(), kioskSeq: 1, createdAt: "2026-12-01T10:00:00Z", ticket: Self.ticket, kind: .bundle,
            service: "senior_taxi", cardNumber: "SKS0001", details: .object(["note": .string("x")]), identity: .unverified,
            phone: "+48512345678", catalogueVersion: 3
        )
        let bare = RequestWireItem(
            idempotencyKey: UUIDv7.make(), kioskSeq: 1, createdAt: "2026-12-01T10:00:00Z", kind: nil, service: nil, cardNumber: nil,
            details: .object([:]), identity: .verified
        )
        try check("RequestItem", full: item, empty: bare)
        let result = RequestResult(
            idempotencyKey: "k", outcome: .duplicate, requestID: 3, reason: "r", firstOutcome: .accepted, status: .declined,
            statusReason: Self.reason, ticket: Self.ticket
        )
        try check("RequestResult", full: result, empty: RequestResult(idempotencyKey: nil, outcome: .accepted))
        try check("StatusReason", full: Self.reason, empty: Self.reason)
        try check("HolderQuery", full: HolderQuery(cardNumber: "SKS0001", uid: "04A2241A7B5C80"), empty: HolderQuery(cardNumber: "", uid: ""))
        let holder = HolderRequest(
            requestID: 1, idempotencyKey: "k", ticket: Self.ticket, kind: .service, service: "senior_taxi", status: .scheduled,
            createdAt: "2026-12-01T10:00:00Z", scheduledFor: "2026-12-10", reason: Self.reason
        )
        let bareHolder = HolderRequest(
            requestID: 1, idempotencyKey: "k", ticket: nil, kind: .callback, service: nil, status: .received, createdAt: "2026-12-01T10:00:00Z"
        )
        try check("HolderRequest", full: holder, empty: bareHolder)
        try check("HolderRequests", full: HolderRequests(requests: [holder]), empty: HolderRequests(requests: []))
        // Tickets as the central writes them match the contract's pattern.
        let pattern = try #require((Self.schemas["Ticket"] as? [String: Any])?["pattern"] as? String)
        for t in [Self.ticket, Ticket(kiosk: 0, sequence: 1), Ticket(kiosk: 29_999, sequence: 9_999_999_999)] {
            #expect(t.code.range(of: pattern, options: .regularExpression) != nil, "\(t.code)")
        }
    }

    @Test("enums: entitlement kinds, technologies, card and request statuses, change ops, identities, request kinds, catalogue kinds")
    func enums() throws {
        #expect(try Self.enumValues("EntitlementKind") == Set(EntitlementKind.allCases.map(\.rawValue)))
        #expect(try Self.enumValues("Technology") == Set(CardTechnology.allCases.map(\.rawValue)))
        #expect(try Self.enumValues("CardStatus") == Set(CardStatus.allCases.map(\.rawValue)))
        #expect(try Self.enumValues("RequestStatus") == Set(RequestStatus.allCases.map(\.rawValue)))
        #expect(try Self.enumValues("RequestKind") == Set(RequestKind.allCases.map(\.rawValue)))
        #expect(try Self.propertyEnum("Change", "op") == Set(ChangeOp.allCases.map(\.rawValue)))
        #expect(try Self.propertyEnum("RequestItem", "identity") == Set(RequestIdentity.allCases.map(\.rawValue)))
        #expect(try Self.propertyEnum("Provider", "kind") == Set(Provider.Kind.allCases.map(\.rawValue)))
        #expect(try Self.propertyEnum("Fee", "kind") == Set(Fee.Kind.allCases.map(\.rawValue)))
        #expect(try Self.propertyEnum("DetailField", "kind") == Set(DetailField.Kind.allCases.map(\.rawValue)))
        #expect(try Self.propertyEnum("Quota", "period") == Set(Quota.Period.allCases.map(\.rawValue)))
    }

    /// The `enum` of property `property` of schema `name`.
    static func propertyEnum(_ name: String, _ property: String) throws -> Set<String> {
        let schema = try #require(schemas[name] as? [String: Any], "no schema \(name) in central.yaml")
        let value = try #require((schema["properties"] as? [String: Any])?[property] as? [String: Any], "\(name) has no \(property)")
        return Set(value["enum"] as? [String] ?? [])
    }

    @Test("routes: the catalogue replaced /v1/services; the holder's and coordinators' routes are in the contract")
    func routes() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/openapi/central.yaml").standardized
        let document = try #require(try Yams.load(yaml: try String(contentsOf: url, encoding: .utf8)) as? [String: Any])
        let paths = Set((document["paths"] as? [String: Any] ?? [:]).keys)
        #expect(!paths.contains("/v1/services"))
        #expect(Self.schemas["ServiceID"] == nil)
        for path in ["/v1/catalogue", "/v1/staff/catalogue", "/v1/holder/requests", "/v1/staff/requests/{ref}", "/v1/staff/requests/{ref}/status",
                     "/v1/staff/requests/{ref}/schedule", "/v1/staff/requests/{ref}/decline"] {
            #expect(paths.contains(path), "\(path)")
        }
    }

    @Test("UUIDv7: keys are valid, increasing, and carry their time")
    func uuid() {
        let a = UUIDv7.make(), b = UUIDv7.make()
        #expect(UUIDv7.isValid(a) && UUIDv7.isValid(b) && a < b)
        #expect(UUIDv7.millis(of: "0190b7c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d") == 0x0190_b7c4_5e6f)
        #expect(!UUIDv7.isValid("0190b7c4-5e6f-6a8b-9c0d-1e2f3a4b5c6d"))
    }
}

