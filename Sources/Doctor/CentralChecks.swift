import AsyncHTTPClient
import CardModel
import Foundation
import KioskCore
import KioskConfig
import NIOCore
import NIOHTTP1
import NIOSSL
import Replica

/// The central, step by step: the name resolves, the port accepts a connection, TLS holds (https),
/// the kiosk's token is accepted, and the last successful sync. No central configured is fine: an
/// outreach kiosk may be offline by design.
struct CentralChecks {
    let environment: DoctorEnvironment
    let config: KioskConfiguration?
    /// kioskd's view of the central, when kioskd answers.
    let status: StatusReport.CentralInfo?
    let replica: Replica.Inspection?

    /// A sync older than this is worth a look.
    static let staleSync: TimeInterval = 24 * 3600

    struct Result {
        var findings: [Finding]
        /// The central's `Date` header, for the clock check.
        var centralDate: Date?
    }

    static let ids = ["central.dns", "central.tcp", "central.tls", "central.token", "central.last_sync"]

    func run() async -> Result {
        guard let config else {
            let skipped = text("Nie sprawdzono: najpierw trzeba naprawić konfigurację.", "Not checked: the configuration must be fixed first.")
            return Result(findings: (["central.configured"] + Self.ids).map { Finding($0, .skipped, skipped) })
        }
        guard let url = config.centralURL, let parsed = URL(string: url), let host = parsed.host, let scheme = parsed.scheme?.lowercased() else {
            let offline = text("Nie skonfigurowano centrali (central.url): kiosk działa samodzielnie — to w porządku dla kiosku bez sieci.",
                               "No central is configured (central.url): the kiosk works on its own — fine for a kiosk without network.")
            return Result(findings: [Finding("central.configured", .ok, offline)]
                + Self.ids.map { Finding($0, .skipped, text("Nie dotyczy: brak centrali.", "Not applicable: no central.")) })
        }
        let port = parsed.port ?? (scheme == "https" ? 443 : 80)
        var findings = [Finding("central.configured", .ok, text("Centrala: \(url).", "Central: \(url)."), detail: ["url": url])]
        var detail = ["host": host, "port": "\(port)"]
        func skipRest(after id: String, because reason: LocalizedText) {
            let rest = Self.ids.drop { $0 != id }.dropFirst().filter { $0 != "central.last_sync" }
            findings += rest.map { Finding($0, .skipped, reason, detail: detail) }
            findings.append(lastSync())
        }

        // DNS
        let resolution = await Network.resolve(host, port: port, timeout: environment.networkTimeout)
        let addresses: [Network.Address]
        let dnsFailure: String?
        switch resolution {
        case .resolved(let found): (addresses, dnsFailure) = (found, nil)
        case .failed(let reason): (addresses, dnsFailure) = ([], reason)
        case .timedOut: (addresses, dnsFailure) = ([], "no answer within \(environment.networkTimeout.components.seconds) s")
        }
        if let why = dnsFailure {
            detail["error"] = why
            findings.append(Finding(
                "central.dns", .problem,
                text("Nie da się ustalić adresu centrali \(host) (\(why)): kiosk nie zsynchronizuje rejestru ani nie wyśle wniosków (sprawdza karty z repliki).",
                     "The central's name \(host) does not resolve (\(why)): the kiosk cannot sync the registry or send requests (it checks cards from its replica)."),
                fix: text("Sprawdź central.url (literówka?), sieć i DNS kiosku: getent hosts \(host); resolvectl status.",
                          "Check central.url (a typo?), the kiosk's network and DNS: getent hosts \(host); resolvectl status."),
                detail: detail))
            skipRest(after: "central.dns", because: text("Nie sprawdzono: nazwa centrali się nie rozwiązuje.", "Not checked: the central's name does not resolve."))
            return Result(findings: findings)
        }
        detail["addresses"] = addresses.map(\.text).joined(separator: ",")
        findings.append(Finding("central.dns", .ok, text("Nazwa \(host) wskazuje na \(addresses[0].text).", "The name \(host) resolves to \(addresses[0].text)."), detail: detail))

        // TCP
        var lastFailure = ""
        var connected = false
        for address in addresses.prefix(4) {
            switch await Network.connect(address, timeout: environment.networkTimeout) {
            case .connected: connected = true
            case .failed(let reason): lastFailure = "\(address.text): \(reason)"
            case .timedOut: lastFailure = "\(address.text): no answer within \(environment.networkTimeout.components.seconds) s"
            }
            if connected { break }
        }
        guard connected else {
            detail["error"] = lastFailure
            findings.append(Finding(
                "central.tcp", .problem,
                text("Centrala \(host):\(port) nie przyjmuje połączeń (\(lastFailure)): nie działa, port jest zamknięty albo blokuje go zapora.",
                     "The central \(host):\(port) does not accept connections (\(lastFailure)): it is down, the port is closed, or a firewall blocks it."),
                fix: text("Sprawdź port w central.url, czy cus-central działa (systemctl status cus-central na serwerze) i zaporę między kioskiem a serwerem.",
                          "Check the port in central.url, whether cus-central runs (systemctl status cus-central on the server) and the firewall between kiosk and server."),
                detail: detail))
            skipRest(after: "central.tcp", because: text("Nie sprawdzono: brak połączenia z centralą.", "Not checked: no connection to the central."))
            return Result(findings: findings)
        }
        detail.removeValue(forKey: "error")
        findings.append(Finding("central.tcp", .ok, text("Centrala \(host):\(port) przyjmuje połączenia.", "The central \(host):\(port) accepts connections."), detail: detail))

        // TLS and the token, over the same client kioskd would use.
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(environment.networkTimeout.components.seconds), read: .seconds(environment.networkTimeout.components.seconds))
        configuration.redirectConfiguration = .disallow
        if let caFile = config.centralCAFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                findings.append(Finding(
                    "central.tls", .problem,
                    text("Pliku CA \(caFile) (central.ca_file) nie da się odczytać jako certyfikatów PEM.", "The CA file \(caFile) (central.ca_file) cannot be read as PEM certificates."),
                    fix: text("Wskaż w central.ca_file plik PEM z certyfikatem CA centrali, czytelny dla kiosku.", "Point central.ca_file at a PEM file with the central's CA certificate, readable by the kiosk."),
                    detail: detail.merging(["ca_file": caFile]) { $1 }))
                skipRest(after: "central.tls", because: text("Nie sprawdzono: TLS nie działa.", "Not checked: TLS does not work."))
                return Result(findings: findings)
            }
            configuration.tlsConfiguration = tls
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let centralDate = await overHTTP(client, base: base, scheme: scheme, token: config.centralToken, detail: detail, into: &findings)
        try? await client.shutdown()
        findings.append(lastSync())
        return Result(findings: findings, centralDate: centralDate)
    }

    /// `central.tls` and `central.token`, appended to `findings`; returns the central's `Date`.
    private func overHTTP(_ client: HTTPClient, base: String, scheme: String, token: String?, detail: [String: String], into findings: inout [Finding]) async -> Date? {
        var detail = detail
        var centralDate: Date?
        func skip(_ ids: [String], _ reason: LocalizedText) {
            findings += ids.map { Finding($0, .skipped, reason, detail: detail) }
        }

        let health = await get(client, base + "/v1/health", token: nil)
        switch health {
        case .answered(_, let date):
            centralDate = date
            findings.append(scheme == "https"
                ? Finding("central.tls", .ok, text("Połączenie TLS z centralą działa, certyfikat jest zaufany.", "TLS with the central works; its certificate is trusted."), detail: detail)
                : Finding("central.tls", .skipped, text("Centrala jest pod zwykłym http:// — bez TLS (zob. config.warning).", "The central is on plain http:// — no TLS (see config.warning)."), detail: detail))
        case .failed(let reason, let isTLS):
            detail["error"] = reason
            if isTLS {
                findings.append(Finding(
                    "central.tls", .problem,
                    text("Połączenie TLS z centralą się nie udało (\(reason)).", "TLS with the central failed (\(reason))."),
                    fix: text("Sprawdź central.ca_file (CA, które podpisało certyfikat centrali), nazwę w certyfikacie i zegar kiosku.",
                              "Check central.ca_file (the CA that signed the central's certificate), the name in the certificate and the kiosk's clock."),
                    detail: detail))
                skip(["central.token"], text("Nie sprawdzono: TLS nie działa.", "Not checked: TLS does not work."))
            } else {
                findings.append(Finding(
                    "central.tls", .problem,
                    text("Centrala przyjmuje połączenie, ale nie odpowiada na HTTP(S) (\(reason)).", "The central accepts the connection but does not answer HTTP(S) (\(reason))."),
                    fix: text("Sprawdź, czy pod tym adresem działa cus-central i czy central.url ma właściwy schemat (http:// czy https://).",
                              "Check that cus-central runs at this address and central.url has the right scheme (http:// or https://)."),
                    detail: detail))
                skip(["central.token"], text("Nie sprawdzono: centrala nie odpowiada.", "Not checked: the central does not answer."))
            }
            return centralDate
        }

        // The token: one page of one change from the kiosk's own feed.
        guard let token, !token.isEmpty else {
            findings.append(Finding(
                "central.token", .problem,
                text("Nie ustawiono tokenu kiosku dla centrali: kioskd nie zsynchronizuje się.", "No kiosk token is set for the central: kioskd will not sync."),
                fix: text("Zarejestruj kiosk na serwerze (cus-central kiosk add NAZWA) i wpisz token w central.token_file.",
                          "Enrol the kiosk on the server (cus-central kiosk add NAME) and put the token in central.token_file."),
                detail: detail))
            return centralDate
        }
        switch await get(client, base + "/v1/registry/changes?after=0&limit=1", token: token) {
        case .answered(let code, let date):
            centralDate = date ?? centralDate
            detail["http_status"] = "\(code)"
            switch code {
            case 200, 410:
                findings.append(Finding("central.token", .ok, text("Centrala przyjmuje token kiosku.", "The central accepts the kiosk's token."), detail: detail))
            case 401:
                findings.append(Finding(
                    "central.token", .problem,
                    text("Centrala odrzuca token kiosku (HTTP 401): token jest błędny albo unieważniony; kiosk nie dostaje zmian rejestru ani nie wysyła wniosków.",
                         "The central refuses the kiosk's token (HTTP 401): it is wrong or revoked; the kiosk gets no registry changes and sends no requests."),
                    fix: text("Zarejestruj kiosk ponownie (cus-central kiosk add NAZWA), wpisz nowy token w central.token_file i uruchom ponownie kioskd.",
                              "Enrol the kiosk again (cus-central kiosk add NAME), put the new token in central.token_file and restart kioskd."),
                    detail: detail))
            case 403:
                findings.append(Finding(
                    "central.token", .problem,
                    text("Centrala mówi, że to nie jest token kiosku (HTTP 403).", "The central says this is not a kiosk token (HTTP 403)."),
                    fix: text("Użyj tokenu z cus-central kiosk add, nie tokenu pracownika.", "Use a token from cus-central kiosk add, not a staff token."),
                    detail: detail))
            default:
                findings.append(Finding(
                    "central.token", .warning,
                    text("Centrala odpowiedziała HTTP \(code) przy sprawdzaniu tokenu.", "The central answered HTTP \(code) when the token was checked."),
                    fix: text("Sprawdź dziennik centrali (journalctl -u cus-central) i uruchom doktora ponownie.", "Check the central's log (journalctl -u cus-central) and run the doctor again."),
                    detail: detail))
            }
        case .failed(let reason, _):
            detail["error"] = reason
            findings.append(Finding(
                "central.token", .warning,
                text("Nie udało się sprawdzić tokenu (\(reason)).", "The token could not be checked (\(reason))."),
                fix: text("Uruchom doktora ponownie; jeśli się powtarza, sprawdź dziennik centrali.", "Run the doctor again; if it repeats, check the central's log."),
                detail: detail))
        }
        return centralDate
    }

    // MARK: Last sync

    private func lastSync() -> Finding {
        let last = status?.lastSuccessfulSync ?? replica?.lastSyncAt
        var detail: [String: String] = [:]
        if let error = status?.lastError { detail["last_error"] = error }
        if let state = status?.state { detail["state"] = state }
        guard let last else {
            return Finding(
                "central.last_sync", .warning,
                text("Kiosk jeszcze nigdy nie zsynchronizował się z centralą.", "The kiosk has never synced with the central."),
                fix: text("Uruchom kioskd i sprawdź: kioskctl sync; przyczyny — wiersze central.* powyżej.", "Start kioskd and try: kioskctl sync; the causes — the central.* lines above."),
                detail: detail)
        }
        detail["last_sync"] = last.formatted(.iso8601)
        let age = environment.now().timeIntervalSince(last)
        let hours = Int(age / 3600)
        if age > Self.staleSync {
            return Finding(
                "central.last_sync", .warning,
                text("Ostatnia udana synchronizacja: \(last.formatted(.iso8601)) (\(hours) h temu): replika może być nieaktualna.",
                     "Last successful sync: \(last.formatted(.iso8601)) (\(hours) h ago): the replica may be out of date."),
                fix: text("Sprawdź wiersze central.* powyżej i: kioskctl sync.", "Check the central.* lines above and: kioskctl sync."),
                detail: detail)
        }
        return Finding("central.last_sync", .ok, text("Ostatnia udana synchronizacja: \(last.formatted(.iso8601)).", "Last successful sync: \(last.formatted(.iso8601))."), detail: detail)
    }

    // MARK: HTTP

    enum Answer {
        case answered(Int, Date?)
        case failed(String, tls: Bool)
    }

    private func get(_ client: HTTPClient, _ url: String, token: String?) async -> Answer {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: "kioskctl-doctor/\(KioskVersion.current)")
        request.headers.add(name: "Accept", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        do {
            let response = try await client.execute(request, timeout: .seconds(environment.networkTimeout.components.seconds))
            _ = try? await response.body.collect(upTo: 1024 * 1024)
            return .answered(Int(response.status.code), response.headers["Date"].first.flatMap(Self.httpDate))
        } catch {
            let description = String(describing: error)
            let tls = error is NIOSSLError || ["SSL", "TLS", "handshake", "certificate", "Certificate"].contains { description.contains($0) }
            if description.contains("CERTIFICATE_VERIFY_FAILED") {
                return .failed("the certificate is not trusted: CERTIFICATE_VERIFY_FAILED", tls: true)
            }
            return .failed(String(description.prefix(200)), tls: tls)
        }
    }

    /// An HTTP `Date` header (RFC 9110 IMF-fixdate).
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
