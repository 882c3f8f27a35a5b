import ArgumentParser
import CardCheck
import CardModel
import Foundation
import KioskConfig
import Replica

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a card number against the local replica, as the kiosk would today.",
        discussion: "Exit status: 0 valid, 2 any other verdict, 1 error."
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
        let record: CardRecord?
        do { record = try replica.card(number: cardNumber) } catch { fail("\(error)", code: 1) }
        let today = SystemClock().today()
        let result = CheckPolicy().verdict(for: record, presentation: .typed(cardNumber), today: today)
        if json {
            struct Out: Encodable {
                var verdict: String, card: String, reason: LocalizedText, reasonCode: String
                var entitlements: [EntitlementSummary], daysToExpiry: Int?, today: CivilDate
            }
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            e.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try e.encode(Out(
                verdict: result.verdict.rawValue, card: result.card.masked, reason: result.reason, reasonCode: result.reasonCode,
                entitlements: result.entitlements, daysToExpiry: result.daysToExpiry, today: today
            )), as: UTF8.self))
        } else {
            print("\(result.card.masked): \(result.verdict.rawValue) — \(result.reason.pl)")
            for e in result.entitlements {
                let until = e.validUntil.map { "do \($0.iso) (\(e.daysToExpiry ?? 0) dni)" } ?? "bezterminowo"
                print("  • \(e.name.pl)\(e.role.map { " (\($0.rawValue))" } ?? ""): \(until)")
            }
        }
        if result.verdict != .valid { throw ExitCode(2) }
    }
}
