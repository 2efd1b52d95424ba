-- +goose Up
-- Who may post as whom: each processed message records the SPF result
-- and the evidence that its From address sent it (dkim, spf, dmarc,
-- reply-token, trusted-network; none), so operators see why it was
-- published or held. peer_ip is the TCP peer when it is not the sending
-- client (over LMTP: the front MTA), for POSTERN_TRUSTED_NETWORKS.
ALTER TABLE inbound
    ADD COLUMN auth_spf text NOT NULL DEFAULT '',
    ADD COLUMN evidence text NOT NULL DEFAULT '',
    ADD COLUMN peer_ip  text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE inbound DROP COLUMN auth_spf, DROP COLUMN evidence, DROP COLUMN peer_ip;
