#ifndef FUNDQ_CMARIADB_SHIM_H
#define FUNDQ_CMARIADB_SHIM_H
#include <mysql.h>
#endif
