public import CardModel
public import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What a ticket slip says: the code large, the service, the next step, and who to call.
public struct TicketSlip: Sendable, Equatable {
    /// The ticket code, e.g. `B7-4KXMQ`.
    public var ticket: String
    /// The service's (or bundle's) name.
    public var service: LocalizedText
    /// What happens next.
    public var nextStep: LocalizedText
    /// The resident's language (`pl`, `uk`, `en`); the slip also carries Polish when it is not Polish.
    public var language: String
    /// The CUS phone number to print, if configured.
    public var contactPhone: String?
    /// When the request was made, printed in Warsaw time.
    public var at: Date

    /// A slip.
    public init(ticket: String, service: LocalizedText, nextStep: LocalizedText, language: String, contactPhone: String?, at: Date) {
        self.ticket = ticket
        self.service = service
        self.nextStep = nextStep
        self.language = language
        self.contactPhone = contactPhone
        self.at = at
    }

    /// The slip as ESC/POS bytes for a 58 or 80 mm thermal printer.
    public func escPos() -> [UInt8] {
        var w = EscPosWriter()
        let words = Self.words(language)
        w.align(.center)
        w.bold(true)
        w.line("Centrum Usług Społecznych")
        w.line("Starachowice")
        w.bold(false)
        w.feed(1)
        w.line(words.ticket)
        w.size(width: 3, height: 3)
        w.bold(true)
        w.line(ticket)
        w.bold(false)
        w.size(width: 1, height: 1)
        w.feed(1)
        w.align(.left)
        for text in Self.wrap(service.text(in: language), width: 32) { w.line(text) }
        w.feed(1)
        for text in Self.wrap(nextStep.text(in: language), width: 32) { w.line(text) }
        if language != "pl" {
            w.feed(1)
            for text in Self.wrap(nextStep.pl, width: 32) { w.line(text) }
        }
        if let contactPhone, !contactPhone.isEmpty {
            w.feed(1)
            w.line(words.phone + " " + contactPhone)
        }
        w.line(Self.stamp(at))
        w.feed(3)
        w.cut()
        return w.bytes
    }

    static func words(_ language: String) -> (ticket: String, phone: String) {
        switch language {
        case "uk": ("Номер вашої заявки:", "Телефон CUS:")
        case "en": ("Your request number:", "CUS phone:")
        default: ("Numer Twojego zgłoszenia:", "Telefon CUS:")
        }
    }

    /// Words wrapped to lines of at most `width` characters.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            if current.isEmpty {
                current = String(word)
            } else if current.count + 1 + word.count <= width {
                current += " " + word
            } else {
                lines.append(current)
                current = String(word)
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    static func stamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .warsaw
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        func two(_ n: Int?) -> String { String(format: "%02d", n ?? 0) }
        return "\(two(c.day)).\(two(c.month)).\(c.year ?? 0) \(two(c.hour)):\(two(c.minute))"
    }
}

/// Why a slip did not print.
public struct PrinterError: Error, Sendable, CustomStringConvertible {
    /// The device path.
    public var device: String
    /// What went wrong.
    public var detail: String

    public var description: String {
        "The ticket printer at \(device) did not print: \(detail). Check that it is on, has paper, and that kioskd may write to it (group lp or dialout)."
    }
}

/// An ESC/POS printer on a character device: `/dev/usb/lp0` (USB) or a serial port (set to raw, 8N1 at `baud`).
///
/// Writes run on a thread of their own: a printer out of paper can block a write for a long time,
/// and the resident's answer never waits for paper.
public struct TicketPrinterDevice: Sendable {
    /// The device path.
    public let path: String
    /// The serial speed, for a serial port.
    public let baud: Int
    /// How long one slip may take before it is given up.
    public let timeout: Duration

    /// A printer at `path`.
    public init(path: String, baud: Int = 19_200, timeout: Duration = .seconds(10)) {
        self.path = path
        self.baud = baud
        self.timeout = timeout
    }

    /// Writes `bytes` to the printer; throws ``PrinterError`` when it cannot, or takes longer than ``timeout``.
    public func print(_ bytes: [UInt8]) async throws(PrinterError) {
        let path = self.path, baud = self.baud
        let result: Result<Void, PrinterError> = await withCheckedContinuation { continuation in
            let once = Once(continuation)
            let thread = Thread { once.resume(Self.write(bytes, to: path, baud: baud)) }
            thread.name = "ticket-printer"
            thread.start()
            Task {
                try? await Task.sleep(for: timeout)
                once.resume(.failure(PrinterError(device: path, detail: "no answer within \(timeout.components.seconds) s")))
            }
        }
        try result.get()
    }

    static func write(_ bytes: [UInt8], to path: String, baud: Int) -> Result<Void, PrinterError> {
        let fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(PrinterError(device: path, detail: String(cString: strerror(errno)))) }
        defer { close(fd) }
        if isatty(fd) == 1 {
            var t = termios()
            if tcgetattr(fd, &t) == 0 {
                cfmakeraw(&t)
                let speed: speed_t = switch baud {
                case 9600: speed_t(B9600)
                case 38_400: speed_t(B38400)
                case 57_600: speed_t(B57600)
                case 115_200: speed_t(B115200)
                default: speed_t(B19200)
                }
                cfsetispeed(&t, speed)
                cfsetospeed(&t, speed)
                _ = tcsetattr(fd, TCSANOW, &t)
            }
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(PrinterError(device: path, detail: String(cString: strerror(errno))))
            }
            offset += n
        }
        return .success(())
    }
}

/// Resumes a continuation once, from whichever comes first: the write or the timeout.
final class Once: Sendable {
    private let continuation: Mutex<CheckedContinuation<Result<Void, PrinterError>, Never>?>
    init(_ c: CheckedContinuation<Result<Void, PrinterError>, Never>) { continuation = Mutex(c) }
    func resume(_ value: Result<Void, PrinterError>) {
        continuation.withLock { c in
            c?.resume(returning: value)
            c = nil
        }
    }
}
