//! A pod's ServiceAccount, named in both fields the API server reads.
//!
//! The API server copies `serviceAccountName` into the deprecated
//! `serviceAccount` when only the first is set, and back when only the
//! second is. Were rayop to apply only `serviceAccountName`, a name later
//! removed from the template would return from the copy rayop never owned;
//! applying both makes a removal remove both.

use k8s_openapi::api::core::v1::PodSpec;

/// Sets the deprecated `serviceAccount` to `serviceAccountName` unless the
/// template already sets it.
pub fn name_in_both_fields(pod: &mut PodSpec) {
    if pod.service_account.is_none() {
        pod.service_account.clone_from(&pod.service_account_name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_copied_into_the_deprecated_field() {
        let mut pod = PodSpec {
            service_account_name: Some("mine".into()),
            ..PodSpec::default()
        };
        name_in_both_fields(&mut pod);
        assert_eq!(pod.service_account.as_deref(), Some("mine"));
    }

    #[test]
    fn no_name_sets_nothing_and_a_users_own_value_stays() {
        let mut pod = PodSpec::default();
        name_in_both_fields(&mut pod);
        assert_eq!(pod.service_account, None);
        let mut pod = PodSpec {
            service_account_name: Some("new".into()),
            service_account: Some("old".into()),
            ..PodSpec::default()
        };
        name_in_both_fields(&mut pod);
        assert_eq!(pod.service_account.as_deref(), Some("old"));
    }
}
