public import Foundation

/// A certificate authority and a server certificate it signed, made by
/// `openssl` in a temporary folder: for TLS tests against real servers.
public struct TestCertificates {
    /// The folder holding the files.
    public let directory: TemporaryDirectory
    /// The CA's certificate (PEM).
    public var authority: String { directory.file("ca.pem") }
    /// The server's certificate, signed by the CA, for the names in `names`.
    public var serverCertificate: String { directory.file("server.pem") }
    /// The server certificate's key.
    public var serverKey: String { directory.file("server-key.pem") }
    /// A client certificate signed by the CA, and its key.
    public var clientCertificate: String { directory.file("client.pem") }
    /// The client certificate's key.
    public var clientKey: String { directory.file("client-key.pem") }
    /// Another CA's certificate, which signed nothing here.
    public var unrelatedAuthority: String { directory.file("other-ca.pem") }

    /// Makes the CA, a server certificate whose subjectAltName is `names`
    /// (`DNS:localhost,IP:127.0.0.1`), a client certificate and an unrelated CA.
    public init(names: String = "DNS:localhost,IP:127.0.0.1") throws {
        directory = try TemporaryDirectory(prefix: "fundq-tls")
        try Self.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=fundq test CA",
                          "-keyout", directory.file("ca-key.pem"), "-out", authority], in: directory)
        try Self.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=another CA",
                          "-keyout", directory.file("other-ca-key.pem"), "-out", unrelatedAuthority], in: directory)
        try sign("server", subject: "/CN=fundq test server", extensions: "subjectAltName=\(names)")
        try sign("client", subject: "/CN=fundq test client", extensions: "extendedKeyUsage=clientAuth")
    }

    /// A key and a certificate signing request for `name`, signed by the CA.
    private func sign(_ name: String, subject: String, extensions: String) throws {
        let extensionsFile = directory.file("\(name).ext")
        try extensions.write(toFile: extensionsFile, atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", directory.file("\(name)-key.pem"),
                          "-out", directory.file("\(name).csr")], in: directory)
        try Self.openssl(["x509", "-req", "-in", directory.file("\(name).csr"), "-CA", authority, "-CAkey", directory.file("ca-key.pem"),
                          "-CAcreateserial", "-days", "2", "-extfile", extensionsFile, "-out", directory.file("\(name).pem")],
                         in: directory)
    }

    private static func openssl(_ arguments: [String], in directory: TemporaryDirectory) throws {
        let p = Process()
        p.executableURL = try Executables.find("openssl")
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TestSetupError("openssl \(arguments.prefix(2).joined(separator: " ")) failed") }
    }
}
