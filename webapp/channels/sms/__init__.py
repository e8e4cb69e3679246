"""SMS through provider HTTP APIs: seven.io, Twilio, a generic HTTP gateway and a log provider.

The delivery engine needs only `webapp.channels.sms.services`: `sms_sender_config`,
`send_sms`, `reconcile` and `supports_reconciliation` (see docs/sms.md).
"""
