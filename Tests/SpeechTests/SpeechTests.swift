import Foundation
import Speech
import Testing

@Suite("Reading aloud with espeak-ng")
struct SpeechTests {
    static func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("speech-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("Polish and Ukrainian text become seconds of real speech", arguments: [
        ("pl", "Twój numer zgłoszenia to B7, myślnik, 4 K X M Q. Koordynator zadzwoni w ciągu dwóch dni roboczych."),
        ("uk", "Номер вашої заявки B7, дефіс, 4 K X M Q. Координатор зателефонує протягом двох робочих днів."),
    ])
    func speaks(language: String, text: String) async throws {
        let speaker = Speaker(output: .wavDirectory(try Self.tempDir()))
        try #require(speaker.isAvailable, "espeak-ng is not installed (apt-get install espeak-ng; .ci/run does)")
        let file = try #require(try await speaker.say(text, language: language))
        await speaker.finish()
        let wav = try #require(FileManager.default.contents(atPath: file))
        #expect(wav.prefix(4) == Data("RIFF".utf8) && wav.subdata(in: 8..<12) == Data("WAVE".utf8))
        // 22050 Hz, 16-bit mono: a sentence of this length takes several seconds.
        let seconds = Double(wav.count - 44) / (22_050 * 2)
        #expect(seconds > 3, "only \(seconds) s of speech")
    }

    @Test("the text goes on stdin, never on the command line where ps shows it")
    func textNotInArguments() async throws {
        let dir = try Self.tempDir()
        let fake = dir + "/fake-espeak"
        try """
            #!/bin/sh
            printf '%s\\n' "$@" > "\(dir)/argv"
            cat > "\(dir)/stdin"
            """.write(toFile: fake, atomically: true, encoding: .utf8)
        #expect(chmod(fake, 0o755) == 0)
        let speaker = Speaker(executable: fake)
        try await speaker.say("Dzień dobry, Halina", language: "uk")
        await speaker.finish()
        let argv = try String(contentsOfFile: dir + "/argv", encoding: .utf8)
        let stdin = try String(contentsOfFile: dir + "/stdin", encoding: .utf8)
        #expect(!argv.contains("Halina"))
        #expect(argv.split(separator: "\n").contains("uk") && argv.contains("--stdin"))
        #expect(stdin == "Dzień dobry, Halina\n")
    }

    @Test("unknown languages, empty or overlong text and a missing espeak-ng are refused with a reason")
    func refusals() async throws {
        let speaker = Speaker(output: .wavDirectory(try Self.tempDir()))
        await #expect(throws: SpeechError.self) { try await speaker.say("hallo", language: "de") }
        await #expect(throws: SpeechError.self) { try await speaker.say("   ", language: "pl") }
        await #expect(throws: SpeechError.self) { try await speaker.say(String(repeating: "a", count: Speaker.maxCharacters + 1), language: "pl") }
        let missing = Speaker(executable: "/nonexistent/espeak-ng")
        #expect(!missing.isAvailable)
        do {
            try await missing.say("test", language: "pl")
            Issue.record("a missing espeak-ng spoke")
        } catch {
            #expect(error.description.contains("apt-get install espeak-ng"))
        }
    }
}
