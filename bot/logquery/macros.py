"""DuckDB macros giving SQL the Logs Insights semantics it lacks; create them on a connection before a query."""

from bot.logquery.patterns import LEVEL_MACRO, MASK_MACRO

# Logs Insights semantics that SQL lacks, as macros so the generated SQL stays readable. They are inlined by
# DuckDB, so they cost nothing at run time.
MACROS = r"""
CREATE OR REPLACE MACRO li_num(x) AS
    COALESCE(TRY_CAST(x AS DOUBLE), CASE x WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END);
CREATE OR REPLACE MACRO li_bool(x) AS
    CASE lower(x) WHEN 'true' THEN true WHEN '1' THEN true WHEN 'false' THEN false WHEN '0' THEN false END;
CREATE OR REPLACE MACRO li_sort_class(x) AS
    CASE WHEN x IS NULL THEN NULL WHEN regexp_full_match(x, '\d+(\.\d+)?') THEN 1 ELSE 0 END;
CREATE OR REPLACE MACRO li_natural(x) AS array_to_string(list_transform(regexp_extract_all(x, '\d+|\D+'),
    lambda c: CASE WHEN regexp_full_match(c, '\d+') THEN lpad(c, 24, '0') ELSE c END), '');
CREATE OR REPLACE MACRO li_base64(x) AS to_base64(encode(x));
CREATE OR REPLACE MACRO li_unbase64(x) AS decode(from_base64(x));
""" + MASK_MACRO + LEVEL_MACRO
