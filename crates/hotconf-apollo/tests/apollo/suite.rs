//! The behaviour suite, for a properties namespace and a document namespace.

use crate::common::ApolloFixture;

mod properties {
    use super::ApolloFixture;
    hotconf_testkit::behaviour_tests!(ApolloFixture::new(false); interruptible, permanent_failures, long_poll);
}

mod document {
    use super::ApolloFixture;
    hotconf_testkit::behaviour_tests!(ApolloFixture::new(true); interruptible, permanent_failures, long_poll);
}
