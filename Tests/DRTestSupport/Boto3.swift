import Foundation

/// Runs a few lines of Python against a test server with boto3, an S3 implementation
/// independent of drctl's, to read back what drctl wrote. The lines see `c` (a boto3 client
/// with path-style addressing for the server) and `args` (the extra arguments).
package enum Boto3 {
    package struct Failed: Error, CustomStringConvertible {
        package var description: String
    }

    package static func run(_ lines: String, server: S3TestServer, arguments: [String] = []) throws -> String {
        let script = """
            import boto3, hashlib, json, sys
            from botocore.config import Config
            s = json.load(open(sys.argv[1]))
            srv = [x for x in s["servers"] if x["name"] == sys.argv[2]][0]
            c = boto3.client("s3", endpoint_url=srv["endpoint"], aws_access_key_id=srv["access_key_id"],
                             aws_secret_access_key=srv["secret_access_key"], region_name=srv.get("region", "us-east-1"),
                             config=Config(s3={"addressing_style": "path"}))
            args = sys.argv[3:]

            """ + lines
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, S3TestServer.file, server.name] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failed(description: "boto3 failed (exit \(process.terminationStatus)) for \(server.name)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
