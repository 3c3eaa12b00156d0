//! Conversions between Python values and the core's model types.

use std::collections::BTreeMap;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDateTime, PyDict, PyFloat, PyInt, PyList, PyString};
use serde_json::{Map, Value};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::errors;

/// An aware `datetime` in UTC.
pub fn datetime<'py>(py: Python<'py>, at: OffsetDateTime) -> PyResult<Bound<'py, PyAny>> {
    Ok(at.into_pyobject(py)?.into_any())
}

/// An optional aware `datetime`.
pub fn opt_datetime<'py>(py: Python<'py>, at: Option<OffsetDateTime>) -> PyResult<Option<Bound<'py, PyAny>>> {
    at.map(|at| datetime(py, at)).transpose()
}

/// A point in time given as an aware `datetime`, a naive `datetime` (taken as UTC), Unix seconds
/// (`int` or `float`), or a protobuf `Timestamp`-like object (`.seconds`, `.nanos`).
pub fn extract_instant(value: &Bound<'_, PyAny>, field: &str) -> PyResult<OffsetDateTime> {
    if value.is_instance_of::<PyDateTime>() {
        if value.getattr("tzinfo")?.is_none() {
            let naive: PrimitiveDateTime = value.extract()?;
            return Ok(naive.assume_utc());
        }
        return value.extract::<OffsetDateTime>();
    }
    if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{field}: expected a datetime or Unix seconds, not bool"
        )));
    }
    let from_secs = |secs: i64, nanos: i64| {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
            .map_err(|_| errors::invalid(field, "timestamp out of range"))
    };
    if value.is_instance_of::<PyInt>() {
        return from_secs(value.extract()?, 0);
    }
    if value.is_instance_of::<PyFloat>() {
        let secs: f64 = value.extract()?;
        if !secs.is_finite() {
            return Err(errors::invalid(field, "timestamp must be finite"));
        }
        return from_secs(secs.floor() as i64, ((secs - secs.floor()) * 1e9) as i64);
    }
    if let (Ok(secs), Ok(nanos)) = (value.getattr("seconds"), value.getattr("nanos")) {
        return from_secs(secs.extract()?, nanos.extract()?);
    }
    Err(PyTypeError::new_err(format!(
        "{field}: expected a datetime, Unix seconds or a protobuf Timestamp, got {}",
        value.get_type().name()?
    )))
}

/// A `dict[str, str]`.
pub fn str_map<'py>(py: Python<'py>, map: &BTreeMap<String, String>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in map {
        dict.set_item(k, v)?;
    }
    Ok(dict)
}

/// Any JSON value as the Python value `json.loads` would give.
pub fn json<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => json_object(py, map)?.into_any(),
    })
}

/// A JSON object as a `dict`.
pub fn json_object<'py>(py: Python<'py>, map: &Map<String, Value>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in map {
        dict.set_item(k, json(py, v)?)?;
    }
    Ok(dict)
}

/// Any `serde::Serialize` value as plain Python data (dicts, lists, str, int…).
pub fn to_plain<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let value =
        serde_json::to_value(value).map_err(|e| errors::internal(format!("serialization failed: {e}")))?;
    json(py, &value)
}

/// A list of strings from a `str` (one item) or any iterable of `str`.
pub fn str_list(value: &Bound<'_, PyAny>, field: &str) -> PyResult<Vec<String>> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(vec![s.to_cow()?.into_owned()]);
    }
    let mut out = Vec::new();
    for item in value
        .try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{field}: expected a string or a list of strings")))?
    {
        let item = item?;
        out.push(
            item.extract::<String>()
                .map_err(|_| PyTypeError::new_err(format!("{field}: expected a list of strings")))?,
        );
    }
    Ok(out)
}

/// Like [`str_list`] for an optional argument.
pub fn opt_str_list(value: Option<&Bound<'_, PyAny>>, field: &str) -> PyResult<Option<Vec<String>>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => str_list(v, field).map(Some),
    }
}

/// A Python-style quoted string for `repr`: `'x'`.
pub fn repr_str(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `repr` of an optional string: `'x'` or `None`.
pub fn repr_opt(value: Option<&str>) -> String {
    value.map_or_else(|| "None".to_owned(), repr_str)
}

/// `repr` of a list of strings: `['a', 'b']`.
pub fn repr_list(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| repr_str(v)).collect();
    format!("[{}]", items.join(", "))
}

/// `repr` of an optional list of strings.
pub fn repr_opt_list(values: Option<&[String]>) -> String {
    values.map_or_else(|| "None".to_owned(), repr_list)
}

/// Index 0 of a response returns the response itself, so code written for the official SDK
/// (whose gRPC methods return `(response, call)` tuples) keeps working with `response[0]`.
pub fn response_item<T>(slf: Bound<'_, T>, index: isize) -> PyResult<Bound<'_, T>> {
    if index == 0 {
        Ok(slf)
    } else {
        Err(pyo3::exceptions::PyIndexError::new_err(
            "authgate responses are objects, not (response, call) tuples; response[0] is the response itself",
        ))
    }
}

/// Declares a frozen response class holding one object, e.g. `OrganizationResponse` with its
/// `.organization`: the getter, `__getitem__` (see [`response_item`]) and a `__repr__` such as
/// `OrganizationResponse(organization=Organization(…))`. Use it in the module that defines the
/// item class (its `__repr__` is called).
macro_rules! response {
    (
        $(#[$doc:meta])*
        $name:literal => $rust:ident { $(#[$field_doc:meta])* $field:ident: $item:ty }
    ) => {
        $(#[$doc])*
        #[pyclass(name = $name, module = "authgate", frozen)]
        pub struct $rust {
            $field: Py<$item>,
        }

        #[pymethods]
        impl $rust {
            $(#[$field_doc])*
            #[getter]
            fn $field(&self, py: Python<'_>) -> Py<$item> {
                self.$field.clone_ref(py)
            }

            fn __getitem__(slf: Bound<'_, Self>, index: isize) -> PyResult<Bound<'_, Self>> {
                $crate::types::response_item(slf, index)
            }

            fn __repr__(&self, py: Python<'_>) -> String {
                format!(
                    concat!($name, "(", stringify!($field), "={})"),
                    self.$field.bind(py).get().__repr__()
                )
            }
        }
    };
}

/// Declares a frozen class for one page of a list, e.g. `ListTokensResponse`: the items (a new
/// list on each access), the total over all pages, `next_page_token` / `prev_page_token`,
/// `__getitem__` (see [`response_item`]) and a `__repr__` giving the number of items.
macro_rules! list_response {
    (
        $(#[$doc:meta])*
        $name:literal => $rust:ident {
            $(#[$items_doc:meta])* $items:ident: $item:ty,
            $(#[$total_doc:meta])* $total:ident,
        }
    ) => {
        $(#[$doc])*
        #[pyclass(name = $name, module = "authgate", frozen)]
        pub struct $rust {
            $items: Vec<Py<$item>>,
            $total: u32,
            next_page_token: String,
            prev_page_token: String,
        }

        impl $rust {
            fn new(
                py: Python<'_>,
                $items: impl IntoIterator<Item = $item>,
                $total: u32,
                next_page_token: String,
                prev_page_token: String,
            ) -> PyResult<Self> {
                Ok($rust {
                    $items: $items.into_iter().map(|item| Py::new(py, item)).collect::<PyResult<_>>()?,
                    $total,
                    next_page_token,
                    prev_page_token,
                })
            }
        }

        #[pymethods]
        impl $rust {
            $(#[$items_doc])*
            #[getter]
            fn $items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyList>> {
                pyo3::types::PyList::new(py, &self.$items)
            }

            $(#[$total_doc])*
            #[getter]
            fn $total(&self) -> u32 {
                self.$total
            }

            /// Token of the next page; `""` on the last page.
            #[getter]
            fn next_page_token(&self) -> &str {
                &self.next_page_token
            }

            /// Token of the previous page; `""` on the first page.
            #[getter]
            fn prev_page_token(&self) -> &str {
                &self.prev_page_token
            }

            fn __getitem__(slf: Bound<'_, Self>, index: isize) -> PyResult<Bound<'_, Self>> {
                $crate::types::response_item(slf, index)
            }

            fn __repr__(&self) -> String {
                format!(
                    concat!($name, "(", stringify!($items), "=<{} items>, ", stringify!($total), "={}, next_page_token={})"),
                    self.$items.len(),
                    self.$total,
                    $crate::types::repr_str(&self.next_page_token)
                )
            }
        }
    };
}

pub(crate) use {list_response, response};
