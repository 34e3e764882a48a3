use proptest as _;
use switchboard as _;
#[test]
fn stub() {}
