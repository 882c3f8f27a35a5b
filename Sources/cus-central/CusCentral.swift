import ArgumentParser
import CardModel
import CentralAPI
import CentralStore
import CentralWire
import CommandLineProgress
import Foundation
import Hummingbird
import Logging
import RegistryCSV
import ServiceLifecycle
import SystemdNotify
import UnixSignals

/// `cus-central`: the CUS registry, change feed and request inbox, with its admin commands.
@main
struct CusCentral: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cus-central",
        abstract: "The CUS central: card registry, change feed for kiosks, and the request inbox.",
        subcommands: [Serve.self, Registry.self, Card.self, Kiosk.self, Staff.self, Requests.self, CatalogueCommand.self]
    )
}

/// `--database URL` and where its password comes from, shared by every subcommand.
struct DatabaseOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "sqlite:/path/central.db or postgres://user@host:port/db[?sslmode=MODE&sslrootcert=PATH&schema=NAME]",
        discussion: """
            PostgreSQL: sslmode is disable, prefer (the default: TLS when the server offers it, certificate \
            not checked), require (TLS, certificate not checked), verify-ca or verify-full (TLS with a \
            certificate from sslrootcert, or the system's CAs; verify-full also checks the host name). \
            Keep the password out of the URL: see --database-password-file.
            """
    ))
    var database: String

    @Option(help: ArgumentHelp(
        "A file holding the PostgreSQL password (its first line), mode 0600 or 0400",
        discussion: """
            Without it the password comes from the environment variable CUS_CENTRAL_DB_PASSWORD, \
            else from the URL, else from PGPASSWORD. A file that group or others can read or write is refused.
            """,
        valueName: "path"
    ))
    var databasePasswordFile: String?

    func open() async throws -> any CentralStore {
        var logger = Logger(label: "cus-central")
        logger.logLevel = .warning
        do {
            let password = try DatabasePassword.resolve(
                url: database, file: databasePasswordFile, environment: ProcessInfo.processInfo.environment
            )
            return try await openCentralStore(database, password: password, logger: logger)
        } catch {
            fail(error.message)
        }
    }
}

/// Prints `message` to stderr and exits 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("cus-central: \(message)\n".utf8))
    exit(1)
}

/// Runs `body` with an open store and closes it; store errors end the program with their message.
func withStore<T>(_ option: DatabaseOption, _ body: (any CentralStore) async throws -> T) async throws -> T {
    let store = try await option.open()
    do {
        let result = try await body(store)
        await store.close()
        return result
    } catch let error as CentralStoreError {
        await store.close()
        fail(error.message)
    } catch {
        await store.close()
        throw error
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP API.")
    @OptionGroup var db: DatabaseOption
    @Option(help: "host:port to listen on; port 0 picks a free port")
    var listen: String = "127.0.0.1:8080"
    @Option(help: "Write the bound host:port to this file once listening")
    var addressFile: String?
    @Option(help: "Days of change feed to keep; kiosks further behind bootstrap again")
    var feedRetentionDays: Int = 30
    @Option(help: "MiB of memory for the last registry snapshot, sent again to the next kiosks while the feed leads from it to the head; 0 turns it off")
    var snapshotCacheMib: Int = CentralAPI.defaultSnapshotCacheBytes >> 20

    func run() async throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            fail("--listen must be host:port, e.g. 127.0.0.1:8080")
        }
        let host = String(listen[..<colon])
        guard feedRetentionDays >= 1 else { fail("--feed-retention-days must be 1 or more") }
        guard (0...65536).contains(snapshotCacheMib) else { fail("--snapshot-cache-mib must be 0 to 65536") }
        let store = try await db.open()
        var log = Logger(label: "cus-central")
        log.logLevel = .info
        let logger = log
        let addressFile = addressFile
        // Under systemd (Type=notify): READY=1 once listening, STOPPING=1 at shutdown; else nothing.
        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        let app = CentralAPI.application(
            store: store,
            configuration: .init(address: .hostname(host, port: port), serverName: "cus-central"),
            retention: .seconds(feedRetentionDays * 86400),
            snapshotCacheBytes: snapshotCacheMib << 20,
            logger: logger,
            onServerRunning: { channel in
                guard let address = channel.localAddress, let boundPort = address.port else { return }
                let bound = "\(address.ipAddress ?? host):\(boundPort)"
                logger.info("cus-central listening", metadata: ["address": "\(bound)"])
                FileHandle.standardOutput.write(Data("listening on \(bound)\n".utf8))
                if let addressFile {
                    try? Data("\(bound)\n".utf8).write(to: URL(fileURLWithPath: addressFile), options: .atomic)
                }
                do { try notifier.ready(status: "Serving the central API at \(bound)") } catch {
                    logger.warning("\(error)")
                }
            }
        )
        let group = ServiceGroup(configuration: .init(
            // The notice last: told first at shutdown.
            services: [.init(service: app), .init(service: StoppingNotice(notifier: notifier, logger: logger))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        do {
            try await group.run()
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}

/// Sends systemd `STOPPING=1` when a graceful shutdown begins.
struct StoppingNotice: Service {
    let notifier: SystemdNotifier
    let logger: Logger
    func run() async throws {
        try? await gracefulShutdown()
        do { try notifier.stopping(status: "Stopping: finishing open requests") } catch {
            logger.warning("\(error.description)")
        }
    }
}

struct Registry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage the card registry.", subcommands: [Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a registry CSV (same columns as kioskctl replica import); idempotent.")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The CSV file") var file: String

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
            // Reading the file, then writing the registry: each shows its progress on stderr (a bar on a
            // terminal, plain lines otherwise); stdout stays the summary.
            let reading = TerminalProgress.standardError(label: "read", unit: nil)
            let parsed: RegistryCSV.Result
            do { parsed = try RegistryCSV.parse(Array(data)) { lines, total in reading.update(lines, of: total) } } catch { fail("\(file): \(error)") }
            reading.finish()
            let progress = TerminalProgress.standardError(label: "import", unit: "cards")
            let report = try await withStore(db) { store in
                try await store.importRegistry(parsed.rows) { done, total in progress.update(done, of: total) }
            }
            progress.finish()
            let refused = (parsed.errors.map { ($0.line, $0.reason) } + report.refused.map { ($0.line, $0.reason) }).sorted { $0.0 < $1.0 }
            for (line, reason) in refused {
                FileHandle.standardError.write(Data("\(file):\(line): refused: \(reason)\n".utf8))
            }
            print("imported \(report.cards) card numbers, \(report.changes) feed changes, \(refused.count) rows refused")
            if !refused.isEmpty { throw ExitCode(1) }
        }
    }
}

struct Card: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage cards.", subcommands: [Revoke.self])

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a card's current chip.")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The card number") var number: String

        func run() async throws {
            let card: CardNumber
            do { card = try CardNumber(normalising: number) } catch { fail(error.message.en) }
            let view = try await withStore(db) { store in try await store.setCardStatus(number: card, to: .revoked) }
            print("card \(card.masked) is \(view.status.rawValue)")
        }
    }
}

struct Kiosk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Enrol and revoke kiosks.", subcommands: [Add.self, Revoke.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enrol a kiosk and print its token once.")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The kiosk's name, e.g. skalka-1") var name: String

        func run() async throws {
            let token = try await withStore(db) { store in try await store.enrol(.kiosk, name: name) }
            print(token)
            FileHandle.standardError.write(Data("kiosk \(name) enrolled; the token above is shown only once: put it in the kiosk's config now\n".utf8))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a kiosk's token; its calls get 401 from now on.")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The kiosk's name") var name: String

        func run() async throws {
            try await withStore(db) { store in try await store.revoke(.kiosk, name: name) }
            print("kiosk \(name) revoked")
        }
    }
}

struct Staff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Enrol and revoke staff.", subcommands: [Add.self, Revoke.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enrol a member of staff and print the token once.")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "A name for the token, e.g. kipus-anna") var name: String

        func run() async throws {
            let token = try await withStore(db) { store in try await store.enrol(.staff, name: name) }
            print(token)
            FileHandle.standardError.write(Data("staff \(name) enrolled; the token above is shown only once\n".utf8))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a staff token.")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The name given at enrolment") var name: String

        func run() async throws {
            try await withStore(db) { store in try await store.revoke(.staff, name: name) }
            print("staff \(name) revoked")
        }
    }
}

/// JSON as the commands print it: sorted keys, indented, slashes left alone.
func prettyJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

struct Requests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the request inbox and move requests on.",
        discussion: """
            TICKET is the ticket the resident was given (e.g. B7-4KXMQ; case and spaces do not matter) or a \
            request id from `requests list`. Every change reaches the kiosk that took the request, and the \
            resident sees it at their next tap at any kiosk.
            """,
        subcommands: [List.self, Show.self, Schedule.self, SetStatus.self, Decline.self]
    )

    /// `TICKET` as a reference, or the program ends saying what to write.
    static func ref(_ text: String) -> RequestRef {
        guard let ref = RequestRef(parsing: text) else { fail("TICKET must be \(RequestRef.help)") }
        return ref
    }

    /// Prints `request` as JSON or as a short summary for a coordinator.
    static func show(_ request: StoredRequest, json: Bool) throws {
        print(json ? try prettyJSON(request) : summary(request))
    }

    /// A few lines a coordinator reads before calling: what, where it is, whom to call. The card
    /// number is masked; the phone is shown, since calling back is the coordinator's job.
    static func summary(_ r: StoredRequest) -> String {
        let what = switch r.kind {
        case .service: "service \(r.service)"
        case .bundle: "bundle \(r.service)"
        case .callback: r.service.isEmpty ? "a call-back" : "a call-back about \(r.service)"
        }
        var status = r.status.rawValue
        if let day = r.scheduledFor {
            status += " for \(day)"
            if let at = r.scheduledAt, at.count >= 16 { status += " at \(at.dropFirst(11).prefix(5))" }
        }
        if r.status == .declined {
            status += " (\(r.reasonCode ?? "no code")): \(r.reason ?? "")"
        }
        var lines = [
            "request \(r.id), ticket \(r.ticket?.code ?? "none")",
            "  asks for: \(what)",
            "  status:   \(status)",
            "  card:     \(r.cardNumber.map { "…" + $0.suffix(4) } ?? "none") (\(r.identity.rawValue))",
            "  phone:    \(r.phone ?? "none")",
            "  kiosk:    \(r.kiosk) (its request \(r.kioskSeq)), made \(r.createdAt), received \(r.receivedAt)",
        ]
        if case .object(let members) = r.details, !members.isEmpty, let text = try? prettyJSON(r.details) {
            lines.append("  details:  " + text.replacingOccurrences(of: "\n", with: "\n  "))
        }
        return lines.joined(separator: "\n")
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one request (as GET /v1/staff/requests/{ref}).")
        @OptionGroup var db: DatabaseOption
        @Flag(help: "Print JSON, as the staff API") var json = false
        @Argument(help: "The ticket (e.g. B7-4KXMQ) or the request id") var ticket: String

        func run() async throws {
            let ref = Requests.ref(ticket)
            let request = try await withStore(db) { store in try await store.request(ref) }
            try Requests.show(request, json: json)
        }
    }

    struct Schedule: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Schedule a request for a day, and a time if agreed; the resident sees \"scheduled for DAY\"."
        )
        @OptionGroup var db: DatabaseOption
        @Flag(help: "Print JSON, as the staff API") var json = false
        @Argument(help: "The ticket (e.g. B7-4KXMQ) or the request id") var ticket: String
        @Option(help: "The day, YYYY-MM-DD") var date: String
        @Option(help: "The time in Warsaw, HH:MM") var time: String?

        func run() async throws {
            let ref = Requests.ref(ticket)
            let day: CivilDate
            do { day = try CivilDate(iso: date) } catch { fail("--date must be a day, YYYY-MM-DD, e.g. 2025-03-04") }
            let time = self.time
            let request = try await withStore(db) { store in try await store.scheduleRequest(ref, date: day, time: time) }
            try Requests.show(request, json: json)
        }
    }

    struct SetStatus: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-status",
            abstract: "Mark a request done, or put it back to received."
        )
        @OptionGroup var db: DatabaseOption
        @Flag(help: "Print JSON, as the staff API") var json = false
        @Argument(help: "The ticket (e.g. B7-4KXMQ) or the request id") var ticket: String
        @Argument(help: "done or received") var status: String

        func run() async throws {
            let ref = Requests.ref(ticket)
            let new: RequestStatus
            switch RequestStatus(rawValue: status) {
            case .done?: new = .done
            case .received?: new = .received
            case .scheduled?: fail("to schedule, use: cus-central requests schedule \(ticket) --date YYYY-MM-DD [--time HH:MM]")
            case .declined?: fail("to decline, use: cus-central requests decline \(ticket) --reason TEXT")
            case nil: fail("the status must be done or received")
            }
            let request = try await withStore(db) { store in try await store.setRequestStatus(ref, RequestStatusChange(status: new)) }
            try Requests.show(request, json: json)
        }
    }

    struct Decline: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decline a request; the resident is shown --reason as written (say why, and what to do instead)."
        )
        @OptionGroup var db: DatabaseOption
        @Flag(help: "Print JSON, as the staff API") var json = false
        @Argument(help: "The ticket (e.g. B7-4KXMQ) or the request id") var ticket: String
        @Option(help: "Why, in words for the resident (1 to 500 characters)") var reason: String

        func run() async throws {
            let ref = Requests.ref(ticket)
            let reason = self.reason
            let request = try await withStore(db) { store in try await store.declineRequest(ref, reason: reason) }
            try Requests.show(request, json: json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List requests, oldest first, a page at a time (as GET /v1/staff/requests).",
            discussion: """
                Prints at most --limit requests with an id above --after. When the page is full, stderr says how to \
                ask for the next one (--after LAST_ID). The identity column is `unverified` when the resident typed \
                the card number instead of tapping the card: confirm who it is by phone.
                """
        )
        @OptionGroup var db: DatabaseOption
        @Flag(help: "Print JSON ({\"requests\": [...]}, as the staff API)") var json = false
        @Option(help: "Only requests with this status: received, scheduled, done or declined") var status: String?
        @Option(help: "Only requests with an id above this one (the last id of the previous page)") var after: Int64 = 0
        @Option(help: "At most this many, 1 to 1000") var limit: Int = 500

        func run() async throws {
            var filter: RequestStatus?
            if let status {
                guard let s = RequestStatus(rawValue: status) else { fail("--status must be received, scheduled, done or declined") }
                filter = s
            }
            guard (1...1000).contains(limit) else { fail("--limit must be a whole number from 1 to 1000; page on with --after") }
            guard after >= 0 else { fail("--after must be 0 or a request id") }
            let (afterID, pageSize) = (self.after, self.limit)
            let list = try await withStore(db) { store in try await store.requests(status: filter, afterID: afterID, limit: pageSize) }
            if list.count == pageSize, let last = list.last {
                FileHandle.standardError.write(Data("more requests may follow: run again with --after \(last.id)\n".utf8))
            }
            if json {
                struct Body: Encodable { var requests: [StoredRequest] }
                print(try prettyJSON(Body(requests: list)))
            } else {
                // identity: `unverified` when the resident typed the card number; confirm who it is by phone.
                print("id\tstatus\tidentity\tservice\tkiosk\treceived_at")
                for r in list {
                    print("\(r.id)\t\(r.status.rawValue)\t\(r.identity.rawValue)\t\(r.service)\t\(r.kiosk)\t\(r.receivedAt)")
                }
            }
        }
    }
}

struct CatalogueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalogue",
        abstract: "Show and publish the service catalogue kiosks offer.",
        discussion: """
            Edit the output of `catalogue show` and publish it: the central checks it as a whole, gives it the \
            next version, and every kiosk replaces its catalogue with it at its next feed poll.
            """,
        subcommands: [Show.self, Publish.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the newest catalogue as JSON (as GET /v1/catalogue).")
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let catalogue = try await withStore(db) { store in try await store.catalogue() }
            print(try prettyJSON(catalogue))
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish a catalogue from a JSON file as the next version; a refused one prints every problem and exits 1."
        )
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The JSON file (its version is ignored)") var file: String

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
            let draft: Catalogue
            do { draft = try decodeCatalogueDraft(data) } catch { fail("\(file): \(error.message)") }
            let author = "cus-central catalogue publish (\(ProcessInfo.processInfo.environment["USER"] ?? "unknown user"))"
            let published = try await withStore(db) { store in try await store.publishCatalogue(draft, by: author) }
            print("published catalogue version \(published.version): \(published.services.count) services, \(published.bundles.count) bundles")
        }
    }
}
