fn main() {
    let name = std::env::args().nth(1).unwrap_or("normal".into());
    let t = synsim::trace::scenarios::trace(&name, &[], 1).expect("scenario");
    for r in &t.records {
        let seg = r
            .seg
            .map(|s| {
                format!(
                    "{} {}:{}->{}:{} seq={} ack={} len={}",
                    s.flags,
                    s.src.ip & 0xff,
                    s.src.port,
                    s.dst.ip & 0xff,
                    s.dst.port,
                    s.seq,
                    s.ack,
                    s.len
                )
            })
            .unwrap_or_default();
        println!(
            "{} {:7} {:?} {} {:?}->{:?} {}",
            r.at,
            r.side.name(),
            r.kind,
            seg,
            r.before,
            r.after,
            r.note
        );
    }
}
