import { graphql } from '../gql/index.js';

export const RegisterMcpServer = graphql(`
  mutation RegisterMcpServer($input: RegisterMcpServerInput!) {
    registerMcpServer(input: $input) {
      name url headerNames principals status error
      functions { name kind description parameters enabled }
    }
  }
`);

export const RefreshMcpServer = graphql(`
  mutation RefreshMcpServer($name: String!) {
    refreshMcpServer(input: { name: $name }) { status error functions { name } }
  }
`);

export const DeleteMcpServer = graphql(`
  mutation DeleteMcpServer($name: String!) {
    deleteMcpServer(input: { name: $name }) { name }
  }
`);

export const McpServers = graphql(`
  query McpServers {
    mcpServers { name status headerNames functions { name } }
  }
`);

export const FunctionNames = graphql(`
  query FunctionNames {
    functions { name kind }
  }
`);

export const McpFunctionStats = graphql(`
  query McpFunctionStats($name: String!) {
    function(name: $name) { name stats { calls successes failures } }
  }
`);
