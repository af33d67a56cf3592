import Foundation
import FundqTestSupport
import Testing

/// deploy/systemd: every unit passes `systemd-analyze verify` without a
/// warning, and every fundq command line in them parses.
@Suite("systemd units")
struct SystemdUnitTests {
    static let directory = RepositoryPaths.root + "/deploy/systemd"

    static func units() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".service") || $0.hasSuffix(".timer") }.sorted()
    }

    @Test func everyUnitVerifiesCleanly() throws {
        let analyze = try Executables.find("systemd-analyze")
        let copy = try TemporaryDirectory(prefix: "fundq-units")
        let binary = try FundqProcess.binary().path
        let names = try Self.units()
        #expect(names.filter { $0.hasSuffix(".timer") }.count == 4)
        for name in names {
            // Verified as installed, with the binary this test built in place of /usr/local/bin/fundq.
            let text = try String(contentsOfFile: Self.directory + "/" + name, encoding: .utf8)
            try text.replacingOccurrences(of: "/usr/local/bin/fundq", with: binary)
                .write(toFile: copy.file(name), atomically: true, encoding: .utf8)
        }
        let p = Process()
        p.executableURL = analyze
        p.arguments = ["verify", "--man=no"] + names.map(copy.file)
        let errors = Pipe()
        p.standardError = errors
        p.standardOutput = errors
        try p.run()
        let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(output)")
        #expect(output.isEmpty, "systemd-analyze warned: \(output)")
    }

    @Test func everyCommandLineNamesFlagsItsCommandHas() throws {
        for name in try Self.units() where name.hasSuffix(".service") {
            // A command line may go on over lines ending in a backslash.
            let text = try String(contentsOfFile: Self.directory + "/" + name, encoding: .utf8).replacingOccurrences(of: "\\\n", with: " ")
            let exec = try #require(text.split(separator: "\n").first { $0.hasPrefix("ExecStart=/usr/local/bin/fundq ") })
            let words = exec.dropFirst("ExecStart=/usr/local/bin/fundq ".count).split(separator: " ").map(String.init)
            let command = Array(words.prefix { !$0.hasPrefix("-") })
            let help = try FundqProcess.run(command + ["--help"])
            #expect(help.status == 0, "\(name): \(command)")
            for flag in words where flag.hasPrefix("--") {
                #expect(help.stdout.contains(flag), "\(name): fundq \(command.joined(separator: " ")) has no \(flag)")
            }
            if !text.contains("Type=oneshot") {
                #expect(words.contains("--metrics-listen"), "\(name): a daemon serves its metrics")
                #expect(text.contains("TimeoutStopSec="), "\(name): given time to finish the work in hand")
            }
        }
    }
}
