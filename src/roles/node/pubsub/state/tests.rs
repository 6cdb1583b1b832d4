use super::*;

fn limit(hard: usize, soft: usize, soft_secs: u64) -> OutputLimit {
    OutputLimit {
        hard,
        soft,
        soft_secs,
    }
}

/// Push a bulk of `n` bytes: `$n\r\n`, the bytes, `\r\n` on the wire.
fn push_bytes(mb: &Mailbox, now: u64, n: usize) {
    mb.push(now, |w| w.bulk(&vec![b'x'; n]));
}

#[test]
fn limits_parse_as_redis_writes_them() {
    assert_eq!(parse_limit("32mb 8mb 60"), Ok(OutputLimit::default()));
    assert_eq!(parse_limit("1024 0 0"), Ok(limit(1024, 0, 0)));
    assert!(parse_limit("32mb 8mb").unwrap_err().contains("<hard>"));
    assert!(parse_limit("32mb 8mb soon")
        .unwrap_err()
        .contains("seconds"));
    assert!(parse_limit("lots 8mb 60")
        .unwrap_err()
        .contains("not a byte size"));
}

#[test]
fn the_hard_limit_cuts_a_subscriber_off_at_once() {
    let mb = Mailbox::new(Proto::Resp2, limit(100, 0, 0));
    push_bytes(&mb, 0, 40); // 47 bytes
    assert_eq!(mb.unwritten(), 47);
    push_bytes(&mb, 0, 40); // 94
    assert!(!mb.killed());
    push_bytes(&mb, 0, 0); // 100: at the limit is over it, as in Redis
    assert!(mb.killed());
    assert_eq!(mb.unwritten(), 0, "the backlog is freed");
    push_bytes(&mb, 0, 1);
    assert_eq!(mb.unwritten(), 0, "later pushes are dropped");
}

#[test]
fn bytes_being_written_count_until_written() {
    let mb = Mailbox::new(Proto::Resp2, limit(100, 0, 0));
    push_bytes(&mb, 0, 54); // 61 bytes
    let mut out = b"+OK\r\n".to_vec();
    mb.take_into(&mut out);
    assert_eq!(out.len(), 66, "mail follows what is in the buffer");
    assert!(out.starts_with(b"+OK\r\n$54\r\n"));
    assert_eq!(mb.unwritten(), 61, "in flight still counts");
    push_bytes(&mb, 0, 34); // 41 more: 102
    assert!(mb.killed(), "in flight plus pending passed the limit");

    let mb = Mailbox::new(Proto::Resp2, limit(100, 0, 0));
    push_bytes(&mb, 0, 54);
    let mut out = Vec::new();
    mb.take_into(&mut out);
    mb.written();
    push_bytes(&mb, 0, 54);
    assert!(!mb.killed(), "written bytes no longer count");
    assert_eq!(mb.unwritten(), 61);
}

#[test]
fn the_soft_limit_cuts_off_only_after_its_seconds() {
    let mb = Mailbox::new(Proto::Resp2, limit(0, 50, 60));
    push_bytes(&mb, 1_000, 54); // 61 bytes: over soft, the clock starts
    assert!(!mb.killed());
    push_bytes(&mb, 61_000, 0); // exactly 60 s later: not more than 60
    assert!(!mb.killed());
    push_bytes(&mb, 61_001, 0);
    assert!(mb.killed());
}

#[test]
fn going_under_the_soft_limit_restarts_its_clock() {
    let mb = Mailbox::new(Proto::Resp2, limit(0, 50, 60));
    push_bytes(&mb, 0, 54); // over soft at 0
    let mut out = Vec::new();
    mb.take_into(&mut out);
    mb.written();
    push_bytes(&mb, 30_000, 0); // 6 bytes: under, clock reset
    push_bytes(&mb, 40_000, 54); // over again from 40 s
    push_bytes(&mb, 90_000, 0);
    assert!(!mb.killed(), "only 50 s over the soft limit");
    push_bytes(&mb, 100_001, 0);
    assert!(mb.killed());
}

#[test]
fn mail_is_encoded_in_the_subscribers_protocol() {
    let mb = Mailbox::new(Proto::Resp2, OutputLimit::default());
    mb.push(0, |w| message(w, b"c", b"m"));
    mb.set_proto(Proto::Resp3);
    mb.push(0, |w| message(w, b"c", b"m"));
    let mut out = Vec::new();
    mb.take_into(&mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"
    );
}

fn take(mb: &Mailbox) -> String {
    let mut out = Vec::new();
    mb.take_into(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn delivery_counts_channel_and_pattern_receivers() {
    let dir = Directory::new(2);
    let mut local = Local::default();
    let (a, b) = (
        Mailbox::new(Proto::Resp2, OutputLimit::default()),
        Mailbox::new(Proto::Resp3, OutputLimit::default()),
    );
    assert!(!dir.may_receive(1, b"news"));
    local.subscribe(&dir, 1, b"news", &a);
    local.subscribe(&dir, 1, b"news", &b);
    local.psubscribe(&dir, 1, b"n*", &a);
    assert!(dir.may_receive(1, b"news") && dir.has_channels(1) && dir.has_patterns(1));
    assert!(!dir.has_channels(0) && !dir.may_receive(0, b"news"));

    // `a` gets it twice (channel and pattern), `b` once.
    assert_eq!(local.deliver(b"news", b"hi", 0, None), 3);
    assert_eq!(
        take(&a),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n\
         *4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        take(&b),
        ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(local.deliver(b"nope", b"x", 0, None), 1, "the pattern");
    assert_eq!(local.deliver(b"other", b"x", 0, None), 0);

    // The publisher's own copies go into its reply, not its mailbox.
    take(&a);
    let mut own = Vec::new();
    let n = local.deliver(
        b"news",
        b"x",
        0,
        Some((&a, &mut Reply::new(&mut own, Proto::Resp2))),
    );
    assert_eq!(n, 3);
    assert!(own.starts_with(b"*3\r\n$7\r\nmessage") && take(&a).is_empty());
    assert!(!take(&b).is_empty());

    assert_eq!(
        local.numsub(&[b"news"[..].into(), b"n*"[..].into()]),
        [2, 0]
    );
    assert_eq!(
        local.channels(Some(b"n?ws")),
        vec![Box::<[u8]>::from(&b"news"[..])]
    );
    assert!(local.channels(Some(b"x*")).is_empty());
    assert_eq!(local.patterns(), vec![Box::<[u8]>::from(&b"n*"[..])]);

    // The directory forgets a channel with its last local subscriber.
    local.unsubscribe(&dir, 1, b"news", &a);
    assert!(dir.has_channels(1));
    local.unsubscribe(&dir, 1, b"news", &b);
    assert!(
        !dir.has_channels(1) && dir.may_receive(1, b"news"),
        "the pattern remains"
    );
    local.punsubscribe(&dir, 1, b"n*", &a);
    assert!(!dir.has_patterns(1) && !dir.may_receive(1, b"news"));
    assert_eq!(local.deliver(b"news", b"x", 0, None), 0);
}

#[test]
fn a_cut_off_subscriber_is_still_counted_until_it_is_gone() {
    let dir = Directory::new(1);
    let mut local = Local::default();
    let slow = Mailbox::new(Proto::Resp2, limit(10, 0, 0));
    local.subscribe(&dir, 0, b"c", &slow);
    assert_eq!(local.deliver(b"c", b"a long message", 0, None), 1);
    assert!(slow.killed() && slow.unwritten() == 0);
    assert_eq!(local.deliver(b"c", b"more", 0, None), 1);
    assert_eq!(slow.unwritten(), 0);
}
