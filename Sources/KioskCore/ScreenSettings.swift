/// What the screen needs to know about this kiosk (`GET /api/v1/ui`): who it serves, the panel it runs
/// on (to size buttons and text in millimetres), its timings, and whether it can speak and print.
public struct ScreenSettings: Sendable, Encodable, Equatable {
    /// The touch panel.
    public struct Panel: Sendable, Encodable, Equatable {
        public var width: Int
        public var height: Int
        public var diagonalInches: Double
        /// A panel.
        public init(width: Int, height: Int, diagonalInches: Double) {
            self.width = width
            self.height = height
            self.diagonalInches = diagonalInches
        }
    }

    /// `resident` or `partner`.
    public var mode: String
    public var panel: Panel
    /// Whether "Czytaj na głos" works here (espeak-ng installed and speech enabled).
    public var speech: Bool
    /// Whether tickets are printed.
    public var printer: Bool
    /// Seconds without a touch before "Czy potrzebujesz więcej czasu?".
    public var inactivitySeconds: Int
    /// Seconds to answer it.
    public var answerSeconds: Int
    /// The CUS phone number to show, if configured.
    public var kioskPhone: String?

    /// Settings.
    public init(
        mode: String = "resident", panel: Panel = Panel(width: 1920, height: 1080, diagonalInches: 21.5), speech: Bool = false,
        printer: Bool = false, inactivitySeconds: Int = 75, answerSeconds: Int = 30, kioskPhone: String? = nil
    ) {
        self.mode = mode
        self.panel = panel
        self.speech = speech
        self.printer = printer
        self.inactivitySeconds = inactivitySeconds
        self.answerSeconds = answerSeconds
        self.kioskPhone = kioskPhone
    }

    /// Encodes `null` for an absent phone.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mode, forKey: .mode)
        try c.encode(panel, forKey: .panel)
        try c.encode(speech, forKey: .speech)
        try c.encode(printer, forKey: .printer)
        try c.encode(inactivitySeconds, forKey: .inactivitySeconds)
        try c.encode(answerSeconds, forKey: .answerSeconds)
        try c.encode(kioskPhone, forKey: .kioskPhone)
    }

    enum CodingKeys: String, CodingKey { case mode, panel, speech, printer, inactivitySeconds, answerSeconds, kioskPhone }
}
