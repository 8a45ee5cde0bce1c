//! `cargo bench`: the hold benchmark of the event queues (ns per hold
//! operation, median of three). `synsim bench` measures whole runs too.

use synsim::bench::hold;
use synsim::engine::{CalendarQueue, HeapQueue, PriorityQueueScheduler, TimingWheel};

fn main() {
    println!("{:>16} {:>10} {:>10}", "queue", "pending", "ns/op");
    for n in [1_000usize, 100_000, 1_000_000] {
        let ops = 1_000_000;
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[1]
        };
        let heap = median((0..3).map(|s| hold(HeapQueue::new(), n, ops, s)).collect());
        let wheel = median((0..3).map(|s| hold(TimingWheel::new(), n, ops, s)).collect());
        let calendar = median((0..3).map(|s| hold(CalendarQueue::new(), n, ops, s)).collect());
        let pq = median((0..3).map(|s| hold(PriorityQueueScheduler::new(), n, ops, s)).collect());
        for (name, ns) in [
            ("BinaryHeap", heap),
            ("timing wheel", wheel),
            ("calendar queue", calendar),
            ("priority-queue", pq),
        ] {
            println!("{name:>16} {n:>10} {ns:>10.1}");
        }
    }
}
