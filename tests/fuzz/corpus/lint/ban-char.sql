CREATE TABLE countries (code char(2), iso3 character(3));

-- must not fire: the single-byte "char" type and text
CREATE TABLE flags (kind "char", label text);
