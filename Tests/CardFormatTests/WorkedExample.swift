/// The worked example of docs/card-format.md: Starachowicka Karta Seniora 60+ `S60-0042`,
/// no end date, chip `04A2241A7B5C80`, key id 1 whose seed is 32 bytes of `11`.
enum WorkedExample {
    /// Pages 4… as written, one page per line.
    static let image = """
        03 70 d4 18
        55 63 75 73
        2d 73 74 61
        72 61 63 68
        6f 77 69 63
        65 2e 70 6c
        3a 63 61 72
        64 01 01 07
        04 a2 24 1a
        7b 5c 80 01
        ff ff 07 53
        36 30 30 30
        34 32 be 48
        88 52 38 3f
        9d 03 50 30
        b2 27 25 74
        5c 5f 28 90
        66 99 bd 4d
        81 9e f6 b8
        18 7d 3f ce
        3b ec 9e 6c
        83 29 3d b2
        d7 82 91 31
        3f 93 3a 76
        a0 7e 70 9c
        4f a6 33 30
        13 c5 4c 1d
        07 1d 4a 61
        ae 09 fe 00
        """
}
