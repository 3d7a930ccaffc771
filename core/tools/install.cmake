# What `cmake --install` puts where its users look (issue 17), and the .deb:
#   bin/lacuna                                  the executable
#   lib/liblacuna.so.X.Y[.Z] + liblacuna.a      for C hosts (include/lacuna.h only)
#   <Lua 5.4 C module dir>/lacuna.so            for `require "lacuna"` from lua5.4
#   share/lacuna/recipes/                       the shipped recipes and samples
#   lib/pkgconfig/lacuna.pc, lib/cmake/lacuna/  pkg-config and find_package(lacuna)
#   share/bash-completion/completions/lacuna, share/man/man1/lacuna.1
# Included from the top-level CMakeLists.txt after the targets exist.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# 0.x releases may change the ABI with every minor version, so the soname
# carries major.minor until 1.0, then major alone.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(LACUNA_SOVERSION "${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}")
else()
  set(LACUNA_SOVERSION "${PROJECT_VERSION_MAJOR}")
endif()

# The shared library for C hosts: the same objects, exporting only the entry
# points of include/lacuna.h (core/tools/lacuna.map), so lacuna's internal
# names cannot clash with a host's. It links Lua: its host owns one lua_State.
add_library(lacuna_shared SHARED)
target_link_libraries(lacuna_shared PRIVATE lacuna_objects PUBLIC PkgConfig::LUA)
set_target_properties(lacuna_shared PROPERTIES OUTPUT_NAME lacuna VERSION ${PROJECT_VERSION}
                      SOVERSION ${LACUNA_SOVERSION} LINK_DEPENDS ${CMAKE_SOURCE_DIR}/core/tools/lacuna.map)
target_link_options(lacuna_shared PRIVATE "LINKER:--version-script=${CMAKE_SOURCE_DIR}/core/tools/lacuna.map")
# The static library is liblacuna.a beside it.
set_target_properties(lacuna_core PROPERTIES OUTPUT_NAME lacuna)
# lacuna.so (the Lua module) exports luaopen_lacuna alone.
target_link_options(lacuna_module PRIVATE "LINKER:--version-script=${CMAKE_SOURCE_DIR}/core/tools/lacuna_module.map")
set_target_properties(lacuna_module PROPERTIES LINK_DEPENDS ${CMAKE_SOURCE_DIR}/core/tools/lacuna_module.map)

# Lua's C module directory, relative to the prefix so that `--prefix` and
# CPack move it along: under Lua's own prefix (/usr on Debian) the one that
# `pkg-config --variable=INSTALL_CMOD lua5.4` names, elsewhere lib/lua/5.4,
# which a stock lua5.4 searches under /usr/local (LUA_CPATH_DEFAULT).
pkg_get_variable(LACUNA_LUA_PREFIX lua5.4 prefix)
pkg_get_variable(LACUNA_LUA_CMOD lua5.4 INSTALL_CMOD)
set(cmod_default "lib/lua/5.4")
if(LACUNA_LUA_PREFIX AND LACUNA_LUA_CMOD AND CMAKE_INSTALL_PREFIX STREQUAL LACUNA_LUA_PREFIX)
  file(RELATIVE_PATH cmod_default "${LACUNA_LUA_PREFIX}" "${LACUNA_LUA_CMOD}")
endif()
set(LACUNA_INSTALL_CMODDIR "${cmod_default}" CACHE STRING
    "where lacuna.so goes, relative to the prefix (Lua 5.4's C module directory)")

# Bash completion and the man page, generated from the command table
# (lua/lacuna/cli.lua, cmd/*.lua) by the freshly built module, so a new
# command or option is in both at the next build.
find_program(LACUNA_LUA54 NAMES lua5.4 REQUIRED)
set(LACUNA_COMPLETION ${CMAKE_BINARY_DIR}/lacuna.bash)
set(LACUNA_MANPAGE ${CMAKE_BINARY_DIR}/lacuna.1)
set(docs_env "LUA_CPATH=$<TARGET_FILE_DIR:lacuna_module>/?.so" "LUA_PATH=")
if(LACUNA_SANITIZE) # the stock interpreter loads an instrumented module: runtimes first
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE asan_lib OUTPUT_STRIP_TRAILING_WHITESPACE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libubsan.so
                  OUTPUT_VARIABLE ubsan_lib OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND docs_env "LD_PRELOAD=${asan_lib}:${ubsan_lib}" "ASAN_OPTIONS=detect_leaks=0")
endif()
add_custom_command(
  OUTPUT ${LACUNA_COMPLETION} ${LACUNA_MANPAGE}
  COMMAND ${CMAKE_COMMAND} -E env ${docs_env}
          ${LACUNA_LUA54} ${CMAKE_SOURCE_DIR}/core/tools/cli_docs.lua bash ${LACUNA_COMPLETION}
  COMMAND ${CMAKE_COMMAND} -E env ${docs_env}
          ${LACUNA_LUA54} ${CMAKE_SOURCE_DIR}/core/tools/cli_docs.lua man ${LACUNA_MANPAGE}
  DEPENDS lacuna_module ${CMAKE_SOURCE_DIR}/core/tools/cli_docs.lua
  COMMENT "Generating bash completion and man page from the command table"
  VERBATIM)
add_custom_target(lacuna_cli_docs ALL DEPENDS ${LACUNA_COMPLETION} ${LACUNA_MANPAGE})

install(TARGETS lacuna RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS lacuna_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS lacuna_core ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/lacuna.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS lacuna_module LIBRARY DESTINATION ${LACUNA_INSTALL_CMODDIR})
install(FILES ${LACUNA_RECIPES} DESTINATION ${CMAKE_INSTALL_DATADIR}/lacuna/recipes)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/recipes/samples DESTINATION ${CMAKE_INSTALL_DATADIR}/lacuna/recipes)
install(FILES ${LACUNA_COMPLETION} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME lacuna)
install(FILES ${LACUNA_MANPAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# pkg-config and CMake package files find the prefix from where they are
# installed, so the tree can be moved (and staged by CPack).
file(RELATIVE_PATH LACUNA_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
file(RELATIVE_PATH LACUNA_CMAKE_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/cmake/lacuna" "/p")
configure_file(${CMAKE_SOURCE_DIR}/core/tools/lacuna.pc.in ${CMAKE_BINARY_DIR}/lacuna.pc @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/core/tools/lacunaConfig.cmake.in ${CMAKE_BINARY_DIR}/lacunaConfig.cmake @ONLY)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/lacunaConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/lacuna.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${CMAKE_BINARY_DIR}/lacunaConfig.cmake ${CMAKE_BINARY_DIR}/lacunaConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lacuna)

# `cpack -G DEB`: a .deb for /usr whose dependencies are the Debian runtime
# packages of the libraries it links (dpkg-shlibdeps reads them off the binaries).
set(CPACK_PACKAGE_NAME lacuna)
set(CPACK_PACKAGE_VENDOR "lacuna")
set(CPACK_PACKAGE_CONTACT "lacuna maintainers <lacuna@invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Lua 5.4 runtime for recipes that design LLM fine-tuning data")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
# lua5.4 itself is what loads lacuna.so; recommended, not required.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "lua5.4")
include(CPack)
