# Embeds seek serve's chat page (webui.html, next to this file) in the binary: a build rule turns
# it into ${CMAKE_BINARY_DIR}/generated/webui_html.h, redone whenever the page changes, which
# src/server/server.c includes. Included from CMakeLists.txt after add_library(seekcore ...);
# the same file, run as `cmake -DIN=page.html -DOUT=header.h -P webui_embed.cmake`, does the
# conversion. Not a general resource compiler: one file, one array.

if(CMAKE_SCRIPT_MODE_FILE) # the conversion (cmake -P)
  file(READ "${IN}" hex HEX)
  string(LENGTH "${hex}" n_hex)
  math(EXPR n_bytes "${n_hex} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REPEAT "0x..," 16 row) # CMake's regexes have no {n}
  string(REGEX REPLACE "(${row})" "\\1\n" bytes "${bytes}")
  # the trailing 0 keeps the array non-empty and makes it a C string too; _len excludes it
  file(WRITE "${OUT}.tmp"
    "/* Generated from src/server/webui.html by src/server/webui_embed.cmake: do not edit. */\n"
    "static const unsigned char seek_webui_html[] = {\n${bytes}0x00};\n"
    "static const unsigned int seek_webui_html_len = ${n_bytes};\n")
  file(RENAME "${OUT}.tmp" "${OUT}")
  return()
endif()

set(SEEK_WEBUI_HTML ${CMAKE_CURRENT_LIST_DIR}/webui.html)
set(SEEK_WEBUI_HEADER ${CMAKE_BINARY_DIR}/generated/webui_html.h)
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/generated)
add_custom_command(OUTPUT ${SEEK_WEBUI_HEADER}
  COMMAND ${CMAKE_COMMAND} -DIN=${SEEK_WEBUI_HTML} -DOUT=${SEEK_WEBUI_HEADER} -P ${CMAKE_CURRENT_LIST_FILE}
  DEPENDS ${SEEK_WEBUI_HTML} ${CMAKE_CURRENT_LIST_FILE}
  COMMENT "Embedding the chat page (src/server/webui.html)"
  VERBATIM)
# listed as a source so that it is generated before seekcore's objects are compiled (server.c
# finds it with __has_include and would otherwise build its placeholder page)
target_sources(seekcore PRIVATE ${SEEK_WEBUI_HEADER})
target_include_directories(seekcore PRIVATE ${CMAKE_BINARY_DIR}/generated)
