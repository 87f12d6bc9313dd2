# The installable package (docs/install.md): shared libraries made of the layer libraries'
# objects, the public headers, PersistingConfig.cmake with imported targets, and pkg-config files.
#
#   libpersisting_core.so      records, codecs, routing rules, group members  persisting::core
#   libpersisting_client.so    the remote gRPC Client (+ core)          persisting::client
#   libpersisting_embedded.so  the Queue and everything below it, backups (+ core) persisting::embedded
#
# The client and the embedded library share libpersisting_core.so, so a program may link both
# and still has one copy of the records code. The client links no runtime, backend, WAL or Lance
# code (scripts/test.d/install-example.sh checks it with ldd and nm).
#
# Inside the project the static layer libraries stay what the apps and tests link.

foreach(layer persisting_wal persisting_lance)
  if(NOT TARGET ${layer})
    message(STATUS "Persisting package not built: ${layer} is left out (PERSISTING_EXCLUDE)")
    return()
  endif()
endforeach()

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PERSISTING_STUB_SOURCE ${PROJECT_BINARY_DIR}/persisting_library.cc)
file(CONFIGURE OUTPUT ${PERSISTING_STUB_SOURCE}  # rewritten only when it changes
     CONTENT "// The installed shared libraries are made of the layer libraries' objects (cmake/PersistingPackage.cmake).\n")

# persisting_shared_library(<export name> LAYERS <static libs> [DEPENDS <shared libs>])
# Builds libpersisting_<export name>.so from every object of LAYERS (whole archive). The layers
# also come in as targets after them, for their usage requirements and external libraries; their
# static dependencies that DEPENDS already defines are then found in DEPENDS, not copied again
# (scripts/test.d/install-example.sh checks that no library defines another's symbols).
# (Raw archive paths rather than $<LINK_LIBRARY:WHOLE_ARCHIVE,...>: CMake refuses that feature
# for a library that also appears as a plain transitive dependency, as persisting_records does.)
function(persisting_shared_library export_name)
  cmake_parse_arguments(arg "" "" "LAYERS;DEPENDS" ${ARGN})
  set(target persisting_${export_name}_shared)
  add_library(${target} SHARED ${PERSISTING_STUB_SOURCE})
  add_library(persisting::${export_name} ALIAS ${target})
  set(archives)
  foreach(layer ${arg_LAYERS})
    list(APPEND archives $<TARGET_FILE:${layer}>)
  endforeach()
  add_dependencies(${target} ${arg_LAYERS})
  # DEPENDS right after the archives and before the layers' static dependencies: the linker
  # (--as-needed) then resolves the archives' references to them in DEPENDS.
  target_link_libraries(${target}
    PRIVATE -Wl,--whole-archive ${archives} -Wl,--no-whole-archive
    PUBLIC ${arg_DEPENDS} Threads::Threads
    PRIVATE ${arg_LAYERS})
  target_include_directories(${target} INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${target} PUBLIC cxx_std_20)
  if(NOT PERSISTING_SANITIZE)  # the sanitizer runtimes resolve at load time
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
  endif()
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME persisting_${export_name}
    EXPORT_NAME ${export_name}
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
    LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib
    INSTALL_RPATH "$ORIGIN")
endfunction()

persisting_shared_library(core LAYERS persisting_records persisting_routing persisting_groups_member)
persisting_shared_library(client
  LAYERS persisting_net_proto persisting_net_client
  DEPENDS persisting_core_shared)
persisting_shared_library(embedded
  LAYERS persisting_core persisting_wal persisting_lance persisting_backend persisting_runtime persisting_groups
         persisting_queue persisting_backup
  DEPENDS persisting_core_shared)

# --- install ---
install(TARGETS persisting_core_shared persisting_client_shared persisting_embedded_shared
        EXPORT PersistingTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/persisting
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(TARGETS persisting persistingd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(PERSISTING_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Persisting)
install(EXPORT PersistingTargets
        NAMESPACE persisting::
        FILE PersistingTargets.cmake
        DESTINATION ${PERSISTING_CMAKE_DIR})
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/PersistingConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/PersistingConfig.cmake
  INSTALL_DESTINATION ${PERSISTING_CMAKE_DIR})
# 0.x: a minor release may break the API, so only the same minor version is compatible.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/PersistingConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/PersistingConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/PersistingConfigVersion.cmake
        DESTINATION ${PERSISTING_CMAKE_DIR})

# pkg-config: paths relative to the .pc file, so `cmake --install --prefix P` may choose P.
file(RELATIVE_PATH PERSISTING_PC_PREFIX
     /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
foreach(pc persisting-client persisting-embedded)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/${pc}.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
