/// PN532 command codes the emulator understands (PN532 user manual §7).
enum PN532Command {
    static let diagnose: UInt8 = 0x00
    static let getFirmwareVersion: UInt8 = 0x02
    static let getGeneralStatus: UInt8 = 0x04
    static let readRegister: UInt8 = 0x06
    static let writeRegister: UInt8 = 0x08
    static let readGPIO: UInt8 = 0x0C
    static let writeGPIO: UInt8 = 0x0E
    static let setSerialBaudRate: UInt8 = 0x10
    static let setParameters: UInt8 = 0x12
    static let samConfiguration: UInt8 = 0x14
    static let powerDown: UInt8 = 0x16
    static let rfConfiguration: UInt8 = 0x32
    static let inDataExchange: UInt8 = 0x40
    static let inCommunicateThru: UInt8 = 0x42
    static let inDeselect: UInt8 = 0x44
    static let inListPassiveTarget: UInt8 = 0x4A
    static let inPSL: UInt8 = 0x4E
    static let inATR: UInt8 = 0x50
    static let inRelease: UInt8 = 0x52
    static let inSelect: UInt8 = 0x54
    static let inJumpForDEP: UInt8 = 0x56
    static let inJumpForPSL: UInt8 = 0x46
    static let inAutoPoll: UInt8 = 0x60
    static let tgInitAsTarget: UInt8 = 0x8C
}

/// PN532 status byte values used in answers (PN532 user manual §7.1, table "Error code list").
enum PN532Status {
    static let ok: UInt8 = 0x00
    /// The target did not answer in time (libnfc: `NFC_ERFTRANS`, and `NFC_ETGRELEASED` in presence checks).
    static let timeout: UInt8 = 0x01
    /// CRC error (libnfc: `NFC_ERFTRANS`).
    static let crcError: UInt8 = 0x02
    /// RF buffer overflow (libnfc: `NFC_ECHIP`).
    static let bufferOverflow: UInt8 = 0x09
    /// MIFARE command refused: the card NAKed (libnfc: `NFC_EMFCAUTHFAIL`).
    static let mifareNAK: UInt8 = 0x14
    /// Command not acceptable in the current context, e.g. no target selected (libnfc: `NFC_EINVARG`).
    static let notAcceptable: UInt8 = 0x27
}

/// The card currently in the RF field.
struct FieldCard: Sendable {
    var image: TagImage
    /// Distinguishes one placement from the next, so a replaced card is not the selected target.
    var generation: Int
    /// HALTed by InDeselect or a HALT command: does not answer until reselected or the field is cycled.
    var halted = false
}

/// What the chip does with a command after acknowledging it.
enum ChipAction: Equatable, Sendable {
    /// Send this answer payload (command code + 1, then data).
    case reply([UInt8])
    /// Send the PN532 syntax error frame (unknown command).
    case errorFrame
    /// Keep waiting: answer later when a card arrives, or never if the host aborts first.
    case wait(ChipWait)
}

/// A command still running on the chip (a real PN532 with MxRtyPassiveActivation = 0xFF polls forever).
enum ChipWait: Equatable, Sendable {
    /// InListPassiveTarget at 106 kbps type A, with the optional cascaded UID to select.
    case listPassiveTypeA(initiatorData: [UInt8])
    /// InAutoPoll with endless polling for type A.
    case autoPoll
    /// A command that never completes in the emulator (no matching target type), until aborted.
    case forever
}

/// Counters reported by `status`.
public struct EmulatorCounters: Codable, Sendable, Equatable {
    /// Command frames received and acknowledged.
    public var commands = 0
    /// Frames dropped while a `silent` fault was active.
    public var droppedWhileSilent = 0
    /// Frames with a bad length or data checksum.
    public var corruptFrames = 0
    /// ACK frames from the host (aborts).
    public var hostAborts = 0
    /// Successful target selections (InListPassiveTarget / InAutoPoll with a target).
    public var selects = 0
    /// Successful READ / FAST_READ commands.
    public var reads = 0
    /// Successful WRITE / COMPATIBILITY_WRITE commands.
    public var writes = 0
    /// Faults injected.
    public var faultsInjected = 0
    /// Times the device vanished.
    public var vanishes = 0

    /// All zero.
    public init() {}
}

/// Everything the serving thread and the API share, guarded by one mutex.
struct EmulatorState: Sendable {
    var card: FieldCard?
    var nextGeneration = 1
    var faults = PendingFaults()
    var latency: Duration = .zero
    var counters = EmulatorCounters()

    // Chip state.
    var registers: [UInt16: UInt8] = EmulatorState.registerDefaults
    var passiveActivationRetries: UInt8 = 0xFF
    var fieldOn = false
    /// Generation of the card selected as target 1, if any.
    var selectedGeneration: Int?

    static let registerDefaults: [UInt16: UInt8] = [
        0x6301: 0x3F,  // CIU_Mode
        0x6302: 0x80,  // CIU_TxMode: CRC on, 106 kbps, ISO 14443-A framing
        0x6303: 0x80,  // CIU_RxMode
        0x6304: 0x83,  // CIU_TxControl
        0x6305: 0x40,  // CIU_TxAuto: 100% ASK
        0x6327: 0x80,  // CIU_Version
        0x633C: 0x10,  // CIU_Control: initiator
    ]

    mutating func place(_ image: TagImage) {
        card = FieldCard(image: image, generation: nextGeneration)
        nextGeneration += 1
    }

    // MARK: Commands

    /// Runs one command (code and parameters) and says what to answer.
    mutating func process(_ command: [UInt8]) -> ChipAction {
        guard let code = command.first else { return .errorFrame }
        let params = Array(command.dropFirst())
        func reply(_ data: [UInt8] = []) -> ChipAction { .reply([code &+ 1] + data) }

        switch code {
        case PN532Command.diagnose:
            switch params.first {
            case 0x00: return reply(params)  // communication line test: echo
            case 0x06: return reply([selectedCardAnswers ? PN532Status.ok : PN532Status.timeout])
            default: return reply([PN532Status.ok])
            }
        case PN532Command.getFirmwareVersion:
            return reply([0x32, 0x01, 0x06, 0x07])  // PN532 v1.6, supports ISO 14443-A, -B and ISO 18092
        case PN532Command.getGeneralStatus:
            let target: [UInt8] = selectedGeneration == nil ? [0x00] : [0x01, 0x01, 0x00, 0x00, 0x00]
            return reply([0x00, fieldOn ? 0x01 : 0x00] + target + [0x00])
        case PN532Command.readRegister:
            var values: [UInt8] = []
            var index = 0
            while index + 1 < params.count {
                values.append(registers[UInt16(params[index]) << 8 | UInt16(params[index + 1])] ?? 0x00)
                index += 2
            }
            return reply(values)
        case PN532Command.writeRegister:
            var index = 0
            while index + 2 < params.count {
                registers[UInt16(params[index]) << 8 | UInt16(params[index + 1])] = params[index + 2]
                index += 3
            }
            return reply()
        case PN532Command.readGPIO:
            return reply([0xFF, 0x07, 0x00])
        case PN532Command.writeGPIO, PN532Command.setSerialBaudRate, PN532Command.setParameters,
            PN532Command.samConfiguration:
            return reply()
        case PN532Command.powerDown:
            releaseTarget()
            return reply([PN532Status.ok])
        case PN532Command.rfConfiguration:
            configureRF(params)
            return reply()
        case PN532Command.inListPassiveTarget:
            return listPassiveTarget(params)
        case PN532Command.inAutoPoll:
            return autoPoll(params)
        case PN532Command.inDataExchange:
            guard params.first == 0x01, selectedGeneration != nil else { return reply([PN532Status.notAcceptable]) }
            return reply(exchange(Array(params.dropFirst()), thru: false))
        case PN532Command.inCommunicateThru:
            return reply(exchange(params, thru: true))
        case PN532Command.inDeselect:
            if selectedGeneration != nil, card?.generation == selectedGeneration { card?.halted = true }
            return reply([PN532Status.ok])
        case PN532Command.inRelease:
            releaseTarget()
            return reply([PN532Status.ok])
        case PN532Command.inSelect:
            guard let selected = selectedGeneration else { return reply([PN532Status.notAcceptable]) }
            guard card?.generation == selected else { return reply([PN532Status.timeout]) }
            card?.halted = false
            return reply([PN532Status.ok])
        case PN532Command.inJumpForDEP, PN532Command.inJumpForPSL, PN532Command.inATR, PN532Command.inPSL:
            return reply([PN532Status.timeout])
        case PN532Command.tgInitAsTarget:
            return .wait(.forever)
        default:
            return .errorFrame
        }
    }

    /// Answers a waiting command if a suitable card is now in the field.
    mutating func answer(_ wait: ChipWait) -> [UInt8]? {
        switch wait {
        case .listPassiveTypeA(let initiatorData):
            guard let data = selectTypeA(initiatorData: initiatorData) else { return nil }
            return [PN532Command.inListPassiveTarget + 1, 0x01] + data
        case .autoPoll:
            guard let data = selectTypeA(initiatorData: []) else { return nil }
            return [PN532Command.inAutoPoll + 1, 0x01, 0x10, UInt8(data.count)] + data
        case .forever:
            return nil
        }
    }

    private var selectedCardAnswers: Bool {
        guard let card, let selectedGeneration else { return false }
        return card.generation == selectedGeneration && !card.halted
    }

    private mutating func releaseTarget() {
        selectedGeneration = nil
    }

    private mutating func configureRF(_ params: [UInt8]) {
        switch params.first {
        case 0x01 where params.count >= 2:  // RF field
            fieldOn = params[1] & 0x01 != 0
            if !fieldOn {
                // Cards lose power: every HALT state and selection is gone.
                selectedGeneration = nil
                card?.halted = false
            }
        case 0x05 where params.count >= 4:  // MxRtyATR, MxRtyPSL, MxRtyPassiveActivation
            passiveActivationRetries = params[3]
        default:
            break
        }
    }

    private mutating func listPassiveTarget(_ params: [UInt8]) -> ChipAction {
        guard params.count >= 2 else { return .reply([PN532Command.inListPassiveTarget + 1, PN532Status.notAcceptable]) }
        releaseTarget()
        fieldOn = true
        let baudRateAndType = params[1]
        if baudRateAndType == 0x00 {
            // The CIU is switched to ISO 14443-A framing for the poll.
            registers[0x6302] = (registers[0x6302] ?? 0x80) & ~0x73
            registers[0x6303] = (registers[0x6303] ?? 0x80) & ~0x73
            let wait = ChipWait.listPassiveTypeA(initiatorData: Array(params.dropFirst(2)))
            if let answer = answer(wait) { return .reply(answer) }
            return passiveActivationRetries == 0xFF ? .wait(wait) : .reply([PN532Command.inListPassiveTarget + 1, 0x00])
        }
        // FeliCa, ISO 14443-B and Jewel: no such card is ever emulated.
        return passiveActivationRetries == 0xFF ? .wait(.forever) : .reply([PN532Command.inListPassiveTarget + 1, 0x00])
    }

    private mutating func autoPoll(_ params: [UInt8]) -> ChipAction {
        guard params.count >= 3 else { return .reply([PN532Command.inAutoPoll + 1, 0x00]) }
        releaseTarget()
        fieldOn = true
        let wantsTypeA = params.dropFirst(2).contains { [0x00, 0x10, 0x20].contains($0) }
        if wantsTypeA, let answer = answer(.autoPoll) { return .reply(answer) }
        return params[0] == 0xFF ? .wait(wantsTypeA ? .autoPoll : .forever) : .reply([PN532Command.inAutoPoll + 1, 0x00])
    }

    /// Selects the card in the field; returns TargetData (Tg, SENS_RES, SEL_RES, NFCIDLength, NFCID1).
    private mutating func selectTypeA(initiatorData: [UInt8]) -> [UInt8]? {
        guard var card else { return nil }
        if !initiatorData.isEmpty, initiatorData != card.image.cascadedUID { return nil }
        card.halted = false
        self.card = card
        selectedGeneration = card.generation
        counters.selects += 1
        let image = card.image
        return [0x01] + image.atqa + [image.sak, UInt8(image.uid.count)] + image.uid
    }

    /// Sends a card command through InDataExchange or InCommunicateThru; returns status and data.
    ///
    /// With InCommunicateThru and CRC handling off (`NP_HANDLE_CRC` false), the host appends the CRC_A
    /// to the command and receives it after the answer, as nfc-mfultralight does for GET_VERSION.
    private mutating func exchange(_ rawCommand: [UInt8], thru: Bool) -> [UInt8] {
        var command = rawCommand
        var rawCRC = false
        if thru {
            // Raw frames only reach a type A card at 106 kbps with parity handled by the chip.
            let txMode = registers[0x6302] ?? 0x80
            let parityOff = (registers[0x630D] ?? 0) & 0x10 != 0
            guard !command.isEmpty, txMode & 0x73 == 0, !parityOff else { return [PN532Status.timeout] }
            if txMode & 0x80 == 0 {
                guard command.count >= 3, CRC_A.checksum(command.dropLast(2)) == Array(command.suffix(2)) else {
                    return [PN532Status.timeout]  // a card ignores frames with a bad CRC
                }
                command.removeLast(2)
                rawCRC = (registers[0x6303] ?? 0x80) & 0x80 == 0
            }
        }
        guard var card, card.generation == selectedGeneration, !card.halted else { return [PN532Status.timeout] }
        let isRead = TagImage.isRead(command)
        let answer = card.image.handle(command)
        if command.first == 0x50 { card.halted = true }
        self.card = card
        switch answer {
        case .data(let bytes):
            guard bytes.count <= 262 else { return [PN532Status.bufferOverflow] }
            if isRead {
                counters.reads += 1
                if let tear = faults.tearAfterReads {
                    faults.tearAfterReads = tear - 1
                    if tear - 1 == 0 {
                        faults.tearAfterReads = nil
                        self.card = nil
                    }
                }
            }
            return [PN532Status.ok] + bytes + (rawCRC ? CRC_A.checksum(bytes) : [])
        case .ack:
            counters.writes += 1
            if let tear = faults.tearAfterWrites {
                faults.tearAfterWrites = tear - 1
                if tear - 1 == 0 {
                    faults.tearAfterWrites = nil
                    self.card = nil
                }
            }
            // InDataExchange consumes the 4-bit ACK of a MIFARE write; InCommunicateThru passes it on.
            return thru ? [PN532Status.ok, 0x0A] : [PN532Status.ok]
        case .nak:
            // After a NAK the tag falls back to IDLE: it answers nothing until selected again.
            self.card?.halted = true
            if thru { return rawCRC ? [PN532Status.ok, 0x00] : [PN532Status.crcError] }
            return [PN532Status.mifareNAK]
        case .none:
            return [PN532Status.timeout]
        }
    }
}

/// The ISO/IEC 14443-3 type A CRC (CRC_A), least significant byte first.
enum CRC_A {
    static func checksum(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var crc: UInt16 = 0x6363
        for byte in bytes {
            var value = byte ^ UInt8(crc & 0xFF)
            value ^= value << 4
            crc = (crc >> 8) ^ (UInt16(value) << 8) ^ (UInt16(value) << 3) ^ (UInt16(value) >> 4)
        }
        return [UInt8(crc & 0xFF), UInt8(crc >> 8)]
    }
}
