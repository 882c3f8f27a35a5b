import ArgumentParser
import CardCheck
import CardModel
import Foundation
import KioskConfig
import KioskCore
import Logging

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a card number against the local replica, as the kiosk would today.",
        discussion: """
            The same check as a typed number at the kiosk (the same policy, the same day in Warsaw, never a day
            before the replica's last refresh), without a running kioskd. Exit status: 0 valid, 2 any other verdict, 1 error.
            """
    )
    @OptionGroup var options: KioskOptions
    @Argument(help: "The card number as printed (spaces and dashes allowed).")
    var number: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let config = try loadConfig(options)
        let cardNumber: CardNumber
        do { cardNumber = try CardNumber(normalising: number) } catch { fail(error.message.en, code: 1) }
        let replica = try openReplica(config)
        // The operator asked for this check: nothing to log, no session worth keeping.
        let checkpoint = Checkpoint(replica: replica, logger: Logger(label: "kioskctl", factory: { _ in SwiftLogNoOpLogHandler() }))
        let event = await checkpoint.check(.typed(cardNumber), source: .check)
        if event.reasonCode == "replica_error" { fail("the replica cannot be read: run kioskctl replica stats", code: 1) }
        if let session = event.session { await checkpoint.endSession(id: session, reason: .done) }
        if json {
            struct Out: Encodable {
                var verdict: String, card: String, reason: LocalizedText, reasonCode: String
                var entitlements: [CheckEvent.EntitlementInfo], daysToExpiry: Int?, today: CivilDate
            }
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            e.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try e.encode(Out(
                verdict: event.verdict.rawValue, card: event.card.masked, reason: event.reason, reasonCode: event.reasonCode,
                entitlements: event.entitlements, daysToExpiry: event.daysToExpiry, today: CivilDate(event.at, in: .warsaw)
            )), as: UTF8.self))
        } else {
            print("\(event.card.masked): \(event.verdict.rawValue) — \(event.reason.pl)")
            for e in event.entitlements {
                let until = e.validUntil.map { "do \($0.iso) (\(e.daysToExpiry ?? 0) dni)" } ?? "bezterminowo"
                print("  • \(e.name.pl)\(e.role.map { " (\($0.rawValue))" } ?? ""): \(until)")
            }
        }
        if event.verdict != .valid { throw ExitCode(2) }
    }
}
