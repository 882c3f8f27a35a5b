/// PN532 host-link frames (normal, extended, ACK, NACK), as described in the PN532 user manual §6.2.
enum PN532Frame {
    /// `00 00 FF 00 FF 00`: the PN532 acknowledges a command, or the host aborts the running one.
    static let ack: [UInt8] = [0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00]

    /// Frame identifier of host-to-PN532 frames.
    static let hostTFI: UInt8 = 0xD4
    /// Frame identifier of PN532-to-host frames.
    static let chipTFI: UInt8 = 0xD5

    /// Builds a PN532-to-host information frame around `payload` (command code + 1 and data); extended if needed.
    static func encode(_ payload: [UInt8], corruptChecksum: Bool = false) -> [UInt8] {
        let length = payload.count + 1  // TFI + payload
        var frame: [UInt8] = [0x00, 0x00, 0xFF]
        if length <= 0xFF {
            frame += [UInt8(length), UInt8(truncatingIfNeeded: 0x100 - length)]
        } else {
            let high = UInt8(length >> 8)
            let low = UInt8(length & 0xFF)
            frame += [0xFF, 0xFF, high, low, UInt8(truncatingIfNeeded: 0x100 - Int(high) - Int(low))]
        }
        frame.append(chipTFI)
        frame += payload
        let sum = payload.reduce(chipTFI) { $0 &+ $1 }
        var dcs = 0 &- sum
        if corruptChecksum { dcs &+= 0x5A }
        frame += [dcs, 0x00]
        return frame
    }
}

/// Something the host sent, cut out of the byte stream.
enum HostMessage: Equatable, Sendable {
    /// A command frame: command code and parameters (without TFI).
    case command([UInt8])
    /// An ACK frame: abort the running command.
    case ack
    /// A NACK frame: send the last answer again.
    case nack
    /// A frame whose length or data checksum is wrong (dropped, as the PN532 does).
    case corrupt
}

/// Incremental parser of the host byte stream; skips wake-up bytes (`55`, `00`) and other noise.
struct HostFrameParser: Sendable {
    private var buffer: [UInt8] = []

    /// Adds bytes read from the line.
    mutating func feed(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Cuts the next complete message from the buffer; nil when more bytes are needed.
    mutating func next() -> HostMessage? {
        while true {
            // Find the start code 00 FF.
            guard let start = startCodeIndex() else {
                // Keep a trailing 00 that may be the first half of a start code.
                buffer = buffer.last == 0x00 ? [0x00] : []
                return nil
            }
            if start > 0 { buffer.removeFirst(start) }
            // buffer: 00 FF LEN LCS ...
            guard buffer.count >= 4 else { return nil }
            let len = buffer[2]
            let lcs = buffer[3]
            if len == 0x00, lcs == 0xFF {
                buffer.removeFirst(min(5, buffer.count))  // 00 FF 00 FF 00
                return .ack
            }
            if len == 0xFF, lcs == 0x00 {
                buffer.removeFirst(min(5, buffer.count))
                return .nack
            }
            var bodyStart = 4
            var bodyLength = Int(len)
            if len == 0xFF, lcs == 0xFF {
                guard buffer.count >= 7 else { return nil }
                let high = buffer[4]
                let low = buffer[5]
                guard (Int(high) + Int(low) + Int(buffer[6])) & 0xFF == 0 else {
                    buffer.removeFirst(2)
                    return .corrupt
                }
                bodyStart = 7
                bodyLength = Int(high) << 8 | Int(low)
            } else if (Int(len) + Int(lcs)) & 0xFF != 0 {
                // Not a frame start after all (e.g. wake-up noise); resynchronise after this 00 FF.
                buffer.removeFirst(2)
                continue
            }
            // body: TFI + data (bodyLength bytes), DCS, postamble 00
            guard buffer.count >= bodyStart + bodyLength + 1 else { return nil }
            let body = Array(buffer[bodyStart..<(bodyStart + bodyLength)])
            let dcs = buffer[bodyStart + bodyLength]
            let consumed = bodyStart + bodyLength + 1
            buffer.removeFirst(consumed)
            // The postamble is optional on the wire; drop it if it is already there.
            if buffer.first == 0x00, !(buffer.count >= 2 && buffer[1] == 0xFF) {
                buffer.removeFirst()
            }
            guard body.count >= 2, body[0] == PN532Frame.hostTFI,
                body.reduce(dcs, { $0 &+ $1 }) == 0
            else {
                return .corrupt
            }
            return .command(Array(body.dropFirst()))
        }
    }

    private func startCodeIndex() -> Int? {
        guard buffer.count >= 2 else { return nil }
        for index in 0..<(buffer.count - 1) where buffer[index] == 0x00 && buffer[index + 1] == 0xFF {
            return index
        }
        return nil
    }
}
