extension Configuration {
    /// A complete, commented configuration for a production server, printed by
    /// `drctl config example` as a starting point. A test decodes it, so it stays valid.
    package static let exampleText = """
        # drctl configuration: /etc/drctl/drctl.toml
        # Check it with: drctl config check --config /etc/drctl/drctl.toml
        # Relative paths are resolved against the folder of this file.
        # Secrets never go here: only the paths of files holding them (mode 0600).

        [store]
        path = "/var/lib/mail/mailboxes"        # every file matching include below it is a mailbox
        include = ["**/*.sqlite"]
        # fallback_page_size = 4096             # for SQLCipher files without a WAL

        [repository]
        password_file = "/etc/drctl/repository.pass"   # or: key_file = "/etc/drctl/repository.key"
        # argon2_memory = "256MiB"              # cost of new passphrase wrappings
        # argon2_iterations = 3

        [[target]]
        name = "eu-central"
        url = "s3://fe-backups-eu/mailboxes"           # bucket and prefix
        endpoint = "https://s3.eu-central-1.example.net"
        region = "eu-central-1"
        credentials_file = "/etc/drctl/eu-central.credentials"  # TOML: access_key_id, secret_access_key[, session_token]

        [[target]]
        name = "us-east"
        url = "file:///mnt/dr-us/mailboxes"

        [objectives]
        rpo = "24h"
        rto = "4h"

        [retention]                              # drctl forget; each rule per mailbox, UTC calendar
        keep_daily = 7                           # the newest snapshot of each of the 7 newest days
        keep_weekly = 5
        keep_monthly = 12
        # keep_last = 10                         # the 10 newest snapshots
        # keep_hourly = 24
        # keep_yearly = 3
        # keep_within = "14d"                    # everything within 14 days of the newest snapshot

        [drill]
        every = "7d"
        sample = 10
        signing_key_file = "/etc/drctl/drill-signing.key"
        report_dir = "/var/lib/drctl/reports"
        # canary = "drctl-canary.sqlite"         # drctl canary writes it; must match [store] include
        # verify_command = ["/usr/local/bin/check-mailbox", "--key-file", "/etc/drctl/drill-mailbox.key"]
        # verify_mailboxes = ["drill/*.sqlite"]  # mailboxes the hook runs for (default: all)

        [logs]
        sources = ["/var/log/mail.log.*"]
        retain = "30d"
        ip = "prefix-preserving"                 # or "truncate"
        key_file = "/etc/drctl/logs.key"
        # key_credential = "logs-key"           # instead of key_file, under systemd (LoadCredential=logs-key:/etc/drctl/logs.key)
        settle = "10m"                           # a rotation unmodified this long is taken by drctl logs retain

        # [logs.anonymize]                       # what logs anonymize replaces (docs/LOGS.md); defaults:
        # ip = "ipcrypt-pfx"                     # or "crypto-pan", "truncate" (ipv4_prefix = 24, ipv6_prefix = 48)
        # addresses = "token-keep-domain"        # or "token", "redact"
        # usernames = "token"                    # or "redact"

        # [backup]
        # compression = "standard"               # plain mailboxes' pages: or "fast" (less CPU, ~3 % more stored), "off"

        [state]
        path = "/var/lib/drctl"                  # caches and locks of this host

        [metrics]
        textfile = "/var/lib/prometheus/node-exporter/drctl.prom"   # for node_exporter's textfile collector; leave out for none

        """
}
