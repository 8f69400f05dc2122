import DRBase

/// Turns an S3 error response into drctl's error: the code that decides the exit status, and
/// a message that names the target, the object and the likely cause, with what to do.
///
/// S3's own `Message` is quoted (it can be useful: "The specified bucket does not exist"),
/// never the whole body: some servers echo the canonical request and string to sign there,
/// which is noise to an operator (and nothing secret, but nothing of use either).
enum S3ErrorMapping {
    static func error(_ response: HTTPResponse, target: String, endpoint: String, bucket: String,
                      key: String?, doing: String) -> TransportError {
        let body = S3ErrorBody(response.body)
        let code = body?.code ?? ""
        let said = body.map { b in b.message.isEmpty ? " (\(b.code))" : " (\(b.code): \(b.message))" } ?? ""
        let request = response.header("x-amz-request-id").map { "; request id \($0)" } ?? ""
        let context = ErrorContext(target: target, object: key)
        let what = "target \(target): \(doing) at \(endpoint) was refused with HTTP \(response.status)\(said)\(request)"
        switch (response.status, code) {
        case (_, "SignatureDoesNotMatch"):
            return TransportError(.transportAuth, message: "\(what): the secret access key does not match the access key id — check secret_access_key in this target's credentials file (a copy-paste that lost or added a character is the usual cause)", context: context)
        case (_, "InvalidAccessKeyId"):
            return TransportError(.transportAuth, message: "\(what): the server does not know this access key id — check access_key_id in this target's credentials file, and that the key was not deleted or rotated", context: context)
        case (_, "RequestTimeTooSkewed"):
            return TransportError(.transportClockSkew, message: "\(what): this host's clock differs from the server's by more than 15 minutes — synchronise it (timedatectl, chrony) and retry", context: context)
        case (_, "ExpiredToken"), (_, "InvalidToken"), (_, "TokenRefreshRequired"):
            return TransportError(.transportAuth, message: "\(what): the session token has expired or is invalid — write fresh credentials (session_token with its key pair) to this target's credentials file", context: context)
        case (_, "NoSuchBucket"):
            return TransportError(.transportNoBucket, message: "\(what): bucket \(bucket) does not exist — create it (with versioning and, if wanted, Object Lock) or fix the url of this target", context: context)
        case (_, "AccessDenied"), (403, _):
            return TransportError(.transportAuth, message: "\(what): access denied — the key lacks a permission this request needs on bucket \(bucket) (backups need s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject and the multipart permissions on its prefix), or the credentials are wrong", context: context)
        case (404, _):
            return TransportError(.transportNotFound, message: "target \(target): \(key ?? "the bucket") does not exist at \(endpoint) (\(doing))\(said)", context: context)
        case (412, _):
            return TransportError(.transportExists, message: "\(what): the object exists already", context: context)
        case (_, "SlowDown"), (429, _), (503, _):
            return TransportError(.transportServer, message: "\(what): the server kept asking to slow down after every retry — lower concurrency or upload_limit for this target, or retry later", context: context)
        case (500..., _):
            return TransportError(.transportServer, message: "\(what): the server failed on every retry — retry later; if it persists, the S3 service has a problem", context: context)
        case (301, _), (307, _), (400, "AuthorizationHeaderMalformed"), (400, "IllegalLocationConstraintException"):
            let region = response.header("x-amz-bucket-region").map { " (the bucket is in \($0))" } ?? ""
            return TransportError(.transportAuth, message: "\(what): the bucket is in another region or behind another endpoint\(region) — set region and endpoint of this target to the bucket's", context: context)
        default:
            return TransportError(.transportProtocol, message: "\(what)", context: context)
        }
    }
}
