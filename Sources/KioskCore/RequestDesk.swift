public import CardModel
public import CentralWire
public import Foundation
public import Outbox
public import ServiceRules
import Synchronization

/// Asks the central for one card holder's requests (`POST /v1/holder/requests`): implemented by `Sync`.
public protocol HolderRequestsSource: Sendable {
    /// The requests the central holds for the card `number`, asked with the chip just presented (the
    /// central answers only when it is the number's current chip).
    ///
    /// Must answer within a couple of seconds: a resident is waiting at the screen.
    /// - Throws: ``HolderLookupError`` when the central cannot answer now; the kiosk then shows and counts what it knows itself.
    func holderRequests(cardNumber: CardNumber, chip: ChipUID) async throws(HolderLookupError) -> [HolderRequest]
}

/// Why the central could not list a holder's requests (offline, too slow, refused); never shown to residents.
public struct HolderLookupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What happened, for the log.
    public var detail: String
    /// An error.
    public init(_ detail: String) { self.detail = detail }
    public var description: String { "the central could not list the holder's requests: \(detail)" }
}

/// Why the desk refused something; the local API turns each case into an answer in three languages.
public enum DeskError: Error, Sendable, Equatable {
    /// The session is unknown or over.
    case sessionExpired
    /// No service (or bundle) with this id in the catalogue.
    case unknownService(String)
    /// The rules say no for this person now.
    case notAvailable(UnavailableReason)
    /// One problem per bad field (details, phone, note).
    case invalidDetails([FieldProblem])
    /// The session was opened by a typed number: its requests are not shown.
    case typedSession
    /// Too many call-backs lately; seconds to wait.
    case tooManyCallbacks(retryAfter: Int)
    /// The request could not be stored; nothing was queued.
    case outboxUnavailable(String)
    /// Neither a request nor a call-back: a body the desk cannot read.
    case malformed(String)
}

/// Takes residents' requests at the kiosk: the catalogue as each person may use it, intake, call-backs,
/// and the status of their requests at the next tap. No HTTP here; the local API calls it.
public final class RequestDesk: Sendable {
    public let checkpoint: Checkpoint
    public let catalog: ServiceCatalog
    /// Where requests are queued; `nil`: requests are refused (``DeskError/outboxUnavailable(_:)``).
    public let outbox: Outbox?
    /// The central's answer for one holder; `nil` on a kiosk without a central.
    public let holders: (any HolderRequestsSource)?
    /// The kiosk's number in its tickets (``KioskTicketNumber``).
    public let ticketKiosk: Int
    /// Limits call-backs without a card.
    public let callbacks: CallbackGuard
    /// How long one answer of the central about a holder is reused within a session.
    public let holderCacheLifetime: TimeInterval

    private struct Cached {
        var at: Date
        var result: Result<[HolderRequest], HolderLookupError>
    }
    private let holderCache = Mutex<[String: Cached]>([:])

    /// A desk.
    public init(
        checkpoint: Checkpoint, catalog: ServiceCatalog, outbox: Outbox?, holders: (any HolderRequestsSource)?, ticketKiosk: Int,
        callbacks: CallbackGuard, holderCacheLifetime: TimeInterval = 30
    ) {
        self.checkpoint = checkpoint
        self.catalog = catalog
        self.outbox = outbox
        self.holders = holders
        self.ticketKiosk = ticketKiosk
        self.callbacks = callbacks
        self.holderCacheLifetime = holderCacheLifetime
    }

    // MARK: The catalogue for one person

    /// Every service and bundle with whether this person may request it now, why not, and the fee they
    /// would pay. Without a session: the public catalogue (the fee for a resident without a card).
    ///
    /// - Throws: ``DeskError/sessionExpired`` for a session that is unknown or over.
    public func listing(session id: String?) async throws(DeskError) -> ServiceListing {
        let catalogue = catalog.catalogue
        let today = await checkpoint.today()
        let applicant: Applicant
        var used: [String: Int] = [:]
        if let id {
            guard let session = await checkpoint.session(id: id) else { throw DeskError.sessionExpired }
            applicant = Applicant(entitlements: session.entitlements)
            used = await usedThisMonth(session: session, today: today, catalogue: catalogue)
        } else {
            applicant = .noCard
        }
        let services = catalogue.services.map { s in
            ServiceOffer(s, assessment: Eligibility.assess(s, for: applicant, today: today, used: used[s.id] ?? 0))
        }
        let bundles = catalogue.bundles.map { b in
            let a = Eligibility.assess(b, in: catalogue, for: applicant, today: today, used: used)
            let leadDays = b.services.compactMap { catalogue.service(id: $0)?.leadDays }.max() ?? 1
            return BundleOffer(
                b, fields: DetailsCheck.fields(of: b, in: catalogue), leadDays: leadDays, available: a.available, reason: a.reason, fees: a.fees
            )
        }
        return ServiceListing(catalogueVersion: catalogue.version, services: services, bundles: bundles)
    }

    // MARK: Intake

    /// A resident's request for the holder of session `session`: a service or a bundle with its details.
    public struct Submission: Sendable {
        public var session: String
        /// `service` or `bundle`.
        public var kind: RequestKind
        /// The service's or bundle's id.
        public var id: String
        /// The details as sent, checked here against the catalogue's fields.
        public var details: JSONValue
        /// A phone number as typed, if any.
        public var phone: String?

        /// A submission.
        public init(session: String, kind: RequestKind, id: String, details: JSONValue, phone: String?) {
            self.session = session
            self.kind = kind
            self.id = id
            self.details = details
            self.phone = phone
        }
    }

    /// Checks a request against the catalogue and the rules and queues it durably.
    ///
    /// In this order: the session, the service or bundle, eligibility (with this month's quota), the
    /// details and the phone number (every bad field at once). Returns only once the request is on disk.
    public func submit(_ submission: Submission) async throws(DeskError) -> AcceptedRequest {
        guard let session = await checkpoint.session(id: submission.session) else { throw DeskError.sessionExpired }
        let catalogue = catalog.catalogue
        let today = await checkpoint.today()
        let applicant = Applicant(entitlements: session.entitlements)
        let fields: [DetailField]
        let leadDays: Int
        let lastDay: CivilDate?
        let nextStep: LocalizedText
        var fee: Fee?
        var fees: [String: Fee?]?
        switch submission.kind {
        case .bundle:
            guard let bundle = catalogue.bundle(id: submission.id) else { throw DeskError.unknownService(submission.id) }
            let used = await usedThisMonth(session: session, today: today, catalogue: catalogue)
            let a = Eligibility.assess(bundle, in: catalogue, for: applicant, today: today, used: used)
            if !a.available { throw DeskError.notAvailable(a.reason ?? .notOfferedNow) }
            let members = bundle.services.compactMap { catalogue.service(id: $0) }
            fields = DetailsCheck.fields(of: bundle, in: catalogue)
            leadDays = members.map(\.leadDays).max() ?? 1
            lastDay = members.compactMap { Eligibility.lastDay(of: $0, for: applicant, today: today) }.min()
            nextStep = bundle.nextStep
            fees = a.fees
        case .service, .callback:
            guard let service = catalogue.service(id: submission.id) else { throw DeskError.unknownService(submission.id) }
            let used = await usedThisMonth(session: session, today: today, catalogue: catalogue)
            let a = Eligibility.assess(service, for: applicant, today: today, used: used[service.id] ?? 0)
            if !a.available { throw DeskError.notAvailable(a.reason ?? .noEntitlement) }
            fields = service.fields
            leadDays = service.leadDays
            lastDay = Eligibility.lastDay(of: service, for: applicant, today: today)
            nextStep = service.nextStep
            fee = a.fee
        }
        var problems: [FieldProblem] = []
        var checked = JSONValue.object([:])
        switch DetailsCheck.check(submission.details, fields: fields, today: today, leadDays: leadDays, lastDay: lastDay) {
        case .success(let value): checked = value
        case .failure(let found): problems = found.problems
        }
        var phone: String?
        if let typed = submission.phone, !typed.trimmingCharacters(in: .whitespaces).isEmpty {
            phone = PolishPhone.normalise(typed)
            if phone == nil { problems.append(PolishPhone.problem) }
        }
        guard problems.isEmpty else { throw DeskError.invalidDetails(problems) }
        let kind: RequestKind = submission.kind == .bundle ? .bundle : .service
        let item = try await enqueue(NewRequest(
            kind: kind, service: submission.id, cardNumber: session.cardNumber.value, identity: session.identity,
            detailsJSON: try Self.compact(checked), phone: phone, catalogueVersion: catalogue.version
        ))
        // The next look at this holder's quota counts the new item from the outbox.
        return AcceptedRequest(item, fee: fee, fees: fees, nextStep: nextStep)
    }

    /// A call-back asked for without a card.
    public struct CallbackSubmission: Sendable {
        /// The phone number as typed.
        public var phone: String?
        /// The service or bundle it is about, if any.
        public var service: String?
        /// A few words for the coordinator.
        public var note: String?

        /// A call-back.
        public init(phone: String?, service: String?, note: String?) {
            self.phone = phone
            self.service = service
            self.note = note
        }
    }

    /// Queues a call-back for a resident with or without a card: a coordinator phones them. Identity
    /// `unverified`, no card number; rate-limited (``CallbackGuard``).
    public func submitCallback(_ callback: CallbackSubmission) async throws(DeskError) -> AcceptedRequest {
        let now = await checkpoint.now()
        if let wait = await callbacks.secondsLeft(now: now) { throw DeskError.tooManyCallbacks(retryAfter: wait) }
        let catalogue = catalog.catalogue
        if let id = callback.service, catalogue.service(id: id) == nil, catalogue.bundle(id: id) == nil {
            throw DeskError.unknownService(id)
        }
        var problems: [FieldProblem] = []
        let typed = callback.phone?.trimmingCharacters(in: .whitespaces) ?? ""
        let phone = PolishPhone.normalise(typed)
        if typed.isEmpty {
            problems.append(FieldProblem(field: "phone", code: "required", message: Self.phoneRequired))
        } else if phone == nil {
            problems.append(PolishPhone.problem)
        }
        var details = JSONValue.object([:])
        if let note = callback.note {
            let field = DetailField(id: "note", kind: .note, label: Self.noteLabel, required: false, max: 500)
            switch DetailsCheck.check(.object(["note": .string(note)]), fields: [field], today: await checkpoint.today(), leadDays: 0) {
            case .success(let value): details = value
            case .failure(let found): problems += found.problems
            }
        }
        guard problems.isEmpty, let phone else { throw DeskError.invalidDetails(problems) }
        let item = try await enqueue(NewRequest(
            kind: .callback, service: callback.service, cardNumber: nil, identity: .unverified,
            detailsJSON: try Self.compact(details), phone: phone, catalogueVersion: catalogue.version
        ))
        await callbacks.record(now: now)
        return AcceptedRequest(item, fee: nil, fees: nil, nextStep: StandardCatalogue.callbackNextStep)
    }

    private func enqueue(_ request: NewRequest) async throws(DeskError) -> OutboxItem {
        guard let outbox else { throw DeskError.outboxUnavailable("no outbox") }
        do {
            return try await outbox.enqueue(request, ticketKiosk: ticketKiosk)
        } catch {
            if error.code == .invalid {
                throw DeskError.invalidDetails([FieldProblem(field: "details", code: "too_long", message: Self.detailsTooLong)])
            }
            throw DeskError.outboxUnavailable(error.description)
        }
    }

    // MARK: Status at the next tap

    /// This holder's requests, newest first: from the central (with the chip just presented) merged with
    /// what waits at this kiosk; when the central cannot answer, what this kiosk knows.
    ///
    /// - Throws: ``DeskError/sessionExpired``; ``DeskError/typedSession`` for a session opened by a typed
    ///   number (anyone can type a number, and the list would tell them what someone asked for).
    public func requests(session id: String) async throws(DeskError) -> [RequestView] {
        guard let session = await checkpoint.session(id: id) else { throw DeskError.sessionExpired }
        guard session.identity == .verified else { throw DeskError.typedSession }
        let local: [OutboxItem]
        do { local = try outbox?.items(forCard: session.cardNumber.value) ?? [] } catch {
            throw DeskError.outboxUnavailable(error.description)
        }
        var views: [RequestView] = []
        var seen: Set<String> = []
        if case .success(let central)? = await centralRequests(for: session) {
            for r in central where seen.insert(r.idempotencyKey.lowercased()).inserted {
                views.append(RequestView(r))
            }
        }
        for item in local where seen.insert(item.idempotencyKey).inserted {
            guard let view = RequestView(item) else { continue }
            views.append(view)
        }
        return views.sorted { ($0.createdAt ?? "") > ($1.createdAt ?? "") }
    }

    /// One request by its id (idempotency key), as this kiosk knows it; `nil` when it has no such request.
    public func request(id: String) throws(DeskError) -> RequestView? {
        guard UUIDv7.isValid(id) else { return nil }
        do {
            guard let item = try outbox?.item(key: id) else { return nil }
            return RequestView(item, includeDiscarded: true)
        } catch {
            throw DeskError.outboxUnavailable(error.description)
        }
    }

    // MARK: Quotas

    /// Requests this person made this month, per service id (a bundle counts for each of its services):
    /// online with a tapped card, the central's list (not declined) and this kiosk's own items; offline or
    /// for a typed number, this kiosk's own items (pending and delivered, not declined nor quarantined).
    func usedThisMonth(session: Checkpoint.Session, today: CivilDate, catalogue: Catalogue) async -> [String: Int] {
        let month = String(today.iso.prefix(7))
        var counted: [(kind: RequestKind, service: String?)] = []
        var seen: Set<String> = []
        if case .success(let central)? = await centralRequests(for: session) {
            for r in central where r.status != .declined && Self.month(ofStamp: r.createdAt) == month {
                if seen.insert(r.idempotencyKey.lowercased()).inserted { counted.append((r.kind, r.service)) }
            }
        }
        let local = (try? outbox?.items(forCard: session.cardNumber.value, month: month)) ?? []
        for item in local where seen.insert(item.idempotencyKey).inserted {
            switch item.state {
            case .pending: counted.append((item.kind, item.service))
            case .delivered where item.centralStatus != RequestStatus.declined.rawValue: counted.append((item.kind, item.service))
            default: continue
            }
        }
        var used: [String: Int] = [:]
        for (kind, service) in counted {
            guard let service else { continue }
            switch kind {
            case .service: used[service, default: 0] += 1
            case .bundle: for id in catalogue.bundle(id: service)?.services ?? [] { used[id, default: 0] += 1 }
            case .callback: continue
            }
        }
        return used
    }

    /// The central's list for a tapped card, asked at most once per ``holderCacheLifetime`` and session;
    /// `nil` for a typed number or a kiosk without a central.
    private func centralRequests(for session: Checkpoint.Session) async -> Result<[HolderRequest], HolderLookupError>? {
        guard let holders, let chip = session.chip, session.identity == .verified else { return nil }
        let now = Date()
        if let cached = holderCache.withLock({ $0[session.id] }), now.timeIntervalSince(cached.at) < holderCacheLifetime {
            return cached.result
        }
        let result: Result<[HolderRequest], HolderLookupError>
        do { result = .success(try await holders.holderRequests(cardNumber: session.cardNumber, chip: chip)) } catch {
            result = .failure(error)
        }
        holderCache.withLock { cache in
            // Only the open session's answer is worth keeping.
            cache = cache.filter { now.timeIntervalSince($0.value.at) < holderCacheLifetime }
            cache[session.id] = Cached(at: now, result: result)
        }
        return result
    }

    static func month(ofStamp stamp: String) -> String? {
        guard let date = try? Date(stamp, strategy: .iso8601) else { return nil }
        return Outbox.month(of: date)
    }

    static func compact(_ value: JSONValue) throws(DeskError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { throw DeskError.malformed("the details cannot be written as JSON") }
        return String(decoding: data, as: UTF8.self)
    }

    static let phoneRequired = LocalizedText(
        pl: "Podaj numer telefonu, abyśmy mogli oddzwonić.",
        uk: "Вкажіть номер телефону, щоб ми могли передзвонити.",
        en: "Please give a phone number we can call you back on."
    )
    static let noteLabel = LocalizedText(pl: "W czym możemy pomóc", uk: "Чим ми можемо допомогти", en: "What we can help with")
    static let detailsTooLong = LocalizedText(
        pl: "Zgłoszenie jest za długie. Skróć opis.", uk: "Заявка задовга. Скоротіть опис.", en: "The request is too long. Please shorten the description."
    )
}
