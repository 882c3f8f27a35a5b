import ArgumentParser
import CardModel
import Doctor
import Foundation

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the kiosk (config, kioskd, reader, clock, disk, central) and say what to fix.",
        discussion: """
            Read only: changes nothing. Every finding has a stable id (docs/operations.md). Run it as root or \
            the kiosk's user (sudo -u kiosk kioskctl doctor) to see everything kioskd sees.
            Without --config, /etc/cus-kiosk/kiosk.toml is read when it exists (the file kioskd.service gives kioskd).
            Exit status: 0 the kiosk is fit to serve (warnings allowed), 1 it is not (each problem on its own line, with what to do).
            """
    )
    @OptionGroup var options: KioskOptions
    @Option(help: "kioskd's local API, host:port (default: the address kioskd wrote to its state dir, or the config's http.addr).")
    var address: String?
    @Option(help: "Language of the report: pl or en (default: from LC_ALL / LC_MESSAGES / LANG, else pl).")
    var lang: String?
    @Flag(help: "Print JSON (both languages): {\"fit\": …, \"checks\": [{\"id\", \"status\", \"message\", \"fix\", \"detail\"}]}.")
    var json = false

    /// The file kioskd.service passes to kioskd.
    static let installedConfig = "/etc/cus-kiosk/kiosk.toml"

    func validate() throws {
        if let lang, !["pl", "en"].contains(lang) { throw ValidationError("--lang must be pl or en") }
    }

    func run() async throws {
        // libnfc's own messages would interleave with the report; an explicit LIBNFC_LOG_LEVEL wins.
        setenv("LIBNFC_LOG_LEVEL", "0", 0)
        let configFile = options.config ?? (FileManager.default.fileExists(atPath: Self.installedConfig) ? Self.installedConfig : nil)
        let report = await Doctor().examine(configFile: configFile, localAddress: address)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Self.render(report, english: english))
        }
        if !report.fit { throw ExitCode(1) }
    }

    private var english: Bool {
        if let lang { return lang == "en" }
        let env = ProcessInfo.processInfo.environment
        let locale = [env["LC_ALL"], env["LC_MESSAGES"], env["LANG"]].compactMap { $0 }.first { !$0.isEmpty } ?? ""
        return locale.hasPrefix("en")
    }

    /// One line per finding: status, id, message, and for a warning or problem what to do.
    static func render(_ report: DoctorReport, english: Bool) -> String {
        func say(_ t: LocalizedText) -> String { english ? t.en : t.pl }
        let labels: [FindingStatus: String] = english
            ? [.ok: "OK", .warning: "WARNING", .problem: "PROBLEM", .skipped: "SKIPPED"]
            : [.ok: "OK", .warning: "UWAGA", .problem: "PROBLEM", .skipped: "POMINIĘTO"]
        let width = report.checks.map(\.id.count).max() ?? 0
        var lines: [String] = []
        for finding in report.checks {
            var line = (labels[finding.status] ?? "").padding(toLength: 10, withPad: " ", startingAt: 0)
                + finding.id.padding(toLength: width + 2, withPad: " ", startingAt: 0) + say(finding.message)
            if let fix = finding.fix, finding.status == .problem || finding.status == .warning || finding.status == .skipped {
                line += (english ? " → What to do: " : " → Co zrobić: ") + say(fix)
            }
            lines.append(line)
        }
        let problems = report.checks.filter { $0.status == .problem }.count
        let warnings = report.checks.filter { $0.status == .warning }.count
        lines.append("")
        if report.fit {
            lines.append(english
                ? "Fit to serve" + (warnings > 0 ? " (\(warnings) warning(s) worth fixing)." : ".")
                : "Kiosk gotowy do pracy" + (warnings > 0 ? " (ostrzeżenia do poprawienia: \(warnings))." : "."))
        } else {
            lines.append(english
                ? "NOT fit to serve: \(problems) problem(s), \(warnings) warning(s)."
                : "Kiosk NIE jest gotowy do pracy: problemy: \(problems), ostrzeżenia: \(warnings).")
        }
        return lines.joined(separator: "\n")
    }
}
