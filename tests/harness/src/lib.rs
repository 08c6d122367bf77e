//! Placeholder: the local control-plane harness lands with the control-plane issue.
