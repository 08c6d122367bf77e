//! The macro that turns the one declaration of the owned kinds
//! ([`super::kinds`]) into everything that dispatches on a kind: the
//! [`Kind`](super::Kind) and [`Object`](super::Object) enums, the API calls,
//! and the caches. A new owned kind is one line of that declaration.

/// Expands the owned-kind declaration; see [`super::kinds`].
macro_rules! owned_kinds {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident($ty:ty) {
            group: $group:literal,
            plural: $plural:literal,
            cache: $cache:expr,
            deletable: $deletable:literal $(,)?
        }
    ),* $(,)?) => {
        /// The kinds of object rayop creates.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Kind {
            /// Every owned kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$( Kind::$variant ),*];

            /// The kind's name, as in `kind:` (two kinds of different
            /// groups may share it: see [`Kind::variant_name`]).
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $( Kind::$variant => <$ty as k8s_openapi::Resource>::KIND, )* }
            }

            /// The declaration's name of the kind, unique among owned kinds.
            #[must_use]
            pub fn variant_name(self) -> &'static str {
                match self { $( Kind::$variant => stringify!($variant), )* }
            }

            /// The API group (`""` for the core group).
            #[must_use]
            pub fn group(self) -> &'static str {
                match self { $( Kind::$variant => $group, )* }
            }

            /// The resource's plural, as in URLs and RBAC rules.
            #[must_use]
            pub fn plural(self) -> &'static str {
                match self { $( Kind::$variant => $plural, )* }
            }

            /// Whether rayop ever deletes objects of this kind itself (rather
            /// than leaving them to garbage collection).
            #[must_use]
            pub fn deletable(self) -> bool {
                match self { $( Kind::$variant => $deletable, )* }
            }

            /// The kind's `apiVersion`.
            #[must_use]
            pub fn api_version(self) -> &'static str {
                match self { $( Kind::$variant => <$ty as k8s_openapi::Resource>::API_VERSION, )* }
            }

            /// The kind named `name` (as in `kind:`), if rayop owns it; of
            /// two kinds sharing a name, the one declared first.
            #[must_use]
            pub fn from_name(name: &str) -> Option<Kind> {
                Kind::ALL.iter().copied().find(|k| k.as_str() == name)
            }

            /// The kind of API group `group` whose plural is `plural`, if
            /// rayop owns it.
            #[must_use]
            pub fn from_resource(group: &str, plural: &str) -> Option<Kind> {
                Kind::ALL.iter().copied().find(|k| k.group() == group && k.plural() == plural)
            }
        }

        /// One desired object of an owned kind.
        #[derive(Clone, Debug, PartialEq, serde::Serialize)]
        #[serde(untagged)]
        #[allow(clippy::large_enum_variant)]
        pub enum Object {
            $( $(#[doc = $doc])* $variant($ty), )*
        }

        impl Object {
            /// The object's metadata.
            #[must_use]
            pub fn meta(&self) -> &kube::api::ObjectMeta {
                match self { $( Object::$variant(o) => &o.metadata, )* }
            }

            /// The object's metadata, mutably.
            pub fn meta_mut(&mut self) -> &mut kube::api::ObjectMeta {
                match self { $( Object::$variant(o) => &mut o.metadata, )* }
            }

            /// The object's kind.
            #[must_use]
            pub fn kind(&self) -> Kind {
                match self { $( Object::$variant(_) => Kind::$variant, )* }
            }
        }

        /// Server-side applies `object` in `namespace` under rayop's field manager.
        ///
        /// # Errors
        /// The API server's refusal.
        pub async fn apply_object(
            client: &kube::Client,
            namespace: &str,
            object: &Object,
        ) -> Result<(), super::api::ApiError> {
            match object { $( Object::$variant(o) => super::api::apply(client, namespace, o).await, )* }
        }

        /// Whether the object `name` of `kind` exists in `namespace`, and
        /// the UID of its controller; see [`super::api::controller_of`].
        ///
        /// # Errors
        /// The API server's refusal.
        pub async fn controller_of(
            client: &kube::Client,
            namespace: &str,
            kind: Kind,
            name: &str,
        ) -> Result<Option<Option<String>>, super::api::ApiError> {
            match kind { $( Kind::$variant => super::api::controller_of::<$ty>(client, namespace, name).await, )* }
        }

        /// Deletes the object `name` of `kind` in `namespace`; one already
        /// gone is fine.
        ///
        /// # Errors
        /// The API server's refusal.
        pub async fn delete_object(
            client: &kube::Client,
            namespace: &str,
            kind: Kind,
            name: &str,
        ) -> Result<(), super::api::ApiError> {
            match kind { $( Kind::$variant => super::api::delete::<$ty>(client, namespace, name).await, )* }
        }

        /// Starts one watch cache per owned kind for which `watched` holds
        /// (kinds of CRDs that may not be installed are watched only when
        /// the operator builds them), in `namespace` or everywhere.
        #[must_use]
        pub fn watch_all(
            client: &kube::Client,
            namespace: Option<&str>,
            watched: impl Fn(Kind) -> bool,
        ) -> (super::cache::OwnedCaches, Vec<super::cache::Trigger>) {
            let mut caches = std::collections::BTreeMap::new();
            let mut triggers = Vec::new();
            $(
                if watched(Kind::$variant) {
                    let (store, trigger) = super::cache::watch::<$ty>(client, namespace, $cache);
                    caches.insert(Kind::$variant, store);
                    triggers.push(trigger);
                }
            )*
            (super::cache::OwnedCaches::new(caches), triggers)
        }
    };
}

pub(crate) use owned_kinds;
