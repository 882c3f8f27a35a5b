import CardModel
import Foundation
import Testing
import TicketPrinter
#if canImport(Glibc)
import Glibc
#endif

@Suite("Ticket slips in ESC/POS")
struct TicketPrinterTests {
    static let taxi = LocalizedText(pl: "Taksówka CUS — kurs", uk: "Таксі CUS — поїздка", en: "CUS taxi")
    static let next = LocalizedText(
        pl: "Koordynator zadzwoni w ciągu 2 dni roboczych, aby ustalić termin.",
        uk: "Координатор зателефонує протягом 2 робочих днів, щоб узгодити дату. Ґанок, Їжак, Єва, ІІ.",
        en: "A coordinator will call within 2 working days."
    )

    @Test("a Polish slip: the code large and bold, Polish letters in PC852, a cut at the end")
    func polish() throws {
        let slip = TicketSlip(ticket: "B7-4KXMQ", service: Self.taxi, nextStep: Self.next, language: "pl", contactPhone: "41 275 40 19", at: Date(timeIntervalSince1970: 1_764_583_200))
        let bytes = slip.escPos()
        #expect(Array(bytes.prefix(2)) == [0x1B, 0x40])
        #expect(Array(bytes.suffix(4)) == [0x1D, 0x56, 0x42, 0x00])
        #expect(bytes.contains(0xA2))  // ó in PC852
        let read = EscPosReader(bytes)
        #expect(read.unknown.isEmpty && read.cuts == 1 && read.resets == 1)
        let code = try #require(read.lines.first { $0.text == "B7-4KXMQ" })
        #expect(code.width == 3 && code.height == 3 && code.bold && code.centered)
        let text = read.lines.map(\.text).joined(separator: " ")
        #expect(text.contains("Centrum Usług Społecznych"))
        #expect(text.contains("Taksówka CUS - kurs"))
        #expect(text.contains("Koordynator zadzwoni w ciągu 2 dni roboczych, aby ustalić termin."))
        #expect(text.contains("Telefon CUS: 41 275 40 19"))
        #expect(text.contains("01.12.2025 11:00"))
        #expect(read.lines.allSatisfy { $0.text.count <= 32 || $0.width > 1 })
    }

    @Test("a Ukrainian slip: Cyrillic in PC866, Polish in PC852, switching pages where the text does")
    func ukrainian() {
        let slip = TicketSlip(ticket: "22-2223X", service: Self.taxi, nextStep: Self.next, language: "uk", contactPhone: nil, at: Date())
        let read = EscPosReader(slip.escPos())
        let text = read.lines.map(\.text).joined(separator: " ")
        #expect(read.unknown.isEmpty)
        #expect(text.contains("Номер вашої заявки:"))
        #expect(text.contains("Таксi CUS - поїздка"))  // і printed as a Latin i
        // PC866 has no І or Ґ: printed as I and Г; Є and Ї come through.
        #expect(text.contains("Ганок, Їжак, Єва, II."))
        // The Polish next step follows, for the coordinator's colleagues at the desk.
        #expect(text.contains("Koordynator zadzwoni w ciągu 2 dni roboczych"))
        #expect(!text.contains("Telefon"))
    }

    @Test("the slip reaches the device: a file standing in for /dev/usb/lp0, and a serial pty set to raw")
    func devices() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("printer-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/lp0"
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        let bytes = TicketSlip(ticket: "B7-4KXMQ", service: Self.taxi, nextStep: Self.next, language: "pl", contactPhone: nil, at: Date()).escPos()
        try await TicketPrinterDevice(path: file).print(bytes)
        #expect(FileManager.default.contents(atPath: file) == Data(bytes))

        // A serial printer: the other end of a pseudo-terminal reads exactly the bytes, unmangled (raw mode).
        // (Glibc's module lacks posix_openpt and friends: TIOCSPTLCK and TIOCGPTN do the same.)
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        #expect(master >= 0 && ioctl(master, 0x4004_5431, &unlock) == 0 && ioctl(master, 0x8004_5430, &number) == 0)
        defer { close(master) }
        let slave = "/dev/pts/\(number)"
        try await TicketPrinterDevice(path: slave, baud: 9600).print(bytes)
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now + .seconds(5)
        while received.count < bytes.count && ContinuousClock.now < deadline {
            let n = read(master, &chunk, chunk.count)
            if n > 0 { received += chunk[0..<n] } else { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(received == bytes)
    }

    @Test("a printer that never answers, or is not there, gives a clear error instead of hanging")
    func failures() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("printer-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/stuck"
        #expect(mkfifo(fifo, 0o600) == 0)  // opening it for writing blocks: no reader, like a printer without paper
        let started = ContinuousClock.now
        await #expect(throws: PrinterError.self) { try await TicketPrinterDevice(path: fifo, timeout: .milliseconds(300)).print([0x1B, 0x40]) }
        // Given up after the time limit, not hanging with the writer (generous: a loaded CI machine is slow to wake it).
        #expect(ContinuousClock.now - started < .seconds(60))
        // Unblock the stuck writer thread.
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        do {
            try await TicketPrinterDevice(path: dir + "/missing").print([0x1B, 0x40])
            Issue.record("printing to a missing device succeeded")
        } catch {
            #expect(error.description.contains("No such file"))
        }
    }
}
